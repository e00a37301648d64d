using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Benchmarks.Suites;

/// <summary>D = L^{-1/4}·G·R^{-1/4} for one N×N fp32 block: two sgemm through <see cref="ShampooPreconditioner{T}"/>.</summary>
public class PreconditionBenchmarks : BackendBenchmark
{
    private ShampooPreconditioner<float> preconditioner = null!;
    private float[] gradient = null!;
    private float[] direction = null!;

    /// <summary>Block side.</summary>
    [Params(256, 512, 1024)]
    public int N { get; set; }

    /// <summary>One accumulated gradient and computed roots, so the product is the real two-gemm path.</summary>
    [GlobalSetup]
    public void Setup()
    {
        LoadBackend();
        gradient = Workloads.GaussianSingle(4, N * N);
        direction = new float[N * N];
        preconditioner = new ShampooPreconditioner<float>(N, N, ShampooPreconditionerOptions.Shampoo, Blas);
        preconditioner.Update(gradient);
        if (!preconditioner.RefreshRoots().Succeeded)
        {
            throw new InvalidOperationException("Root refresh failed in setup.");
        }
    }

    /// <summary>Two sgemm.</summary>
    [Benchmark, Flops(nameof(PreconditionFlops), FlopPrecision.Single)]
    public void Precondition() => preconditioner.Precondition(gradient, direction);

    internal static double PreconditionFlops(ParameterInstances p)
    {
        var n = FlopModel.IntParameter(p, nameof(N));
        return Flops.Precondition(n, n);
    }

    /// <summary>Frees the preconditioner.</summary>
    [GlobalCleanup]
    public void Cleanup() => preconditioner.Dispose();
}
