using BenchmarkDotNet.Attributes;
using ShampooMkl.Linalg;

namespace ShampooMkl.Benchmarks.Suites;

/// <summary>Base of the suites that run once per BLAS backend (each case in its own process, so thread pools never mix).</summary>
public abstract class BackendBenchmark
{
    /// <summary>The backend every BLAS/LAPACK call of the case goes to.</summary>
    [Params(BlasBackendKind.Mkl, BlasBackendKind.OpenBlas)]
    public BlasBackendKind Backend { get; set; }

    /// <summary>The loaded backend.</summary>
    protected BlasBackend Blas { get; private set; } = null!;

    /// <summary>Loads the backend and makes it the process default (models and setup code use the default).</summary>
    protected void LoadBackend()
    {
        Blas = BlasBackend.Load(Backend);
        BlasBackend.SetDefault(Backend);
    }
}
