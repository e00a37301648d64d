using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Benchmarks.Suites;

/// <summary>Statistics update of one N×N fp32 block: a bare syrk, the mirror of its triangle, and the whole
/// <see cref="KroneckerFactors{T}.Accumulate"/> (two syrk; the mirrors are deferred to the next read of the factors).</summary>
public class FactorUpdateBenchmarks : BackendBenchmark
{
    private AlignedArray<float> gradient = null!;
    private AlignedArray<float> factor = null!;
    private KroneckerFactors<float> factors = null!;

    /// <summary>Block side.</summary>
    [Params(256, 512, 1024)]
    public int N { get; set; }

    /// <summary>Seeded gradient and zero statistics.</summary>
    [GlobalSetup]
    public void Setup()
    {
        LoadBackend();
        gradient = new AlignedArray<float>(N * N);
        Workloads.GaussianSingle(3, N * N).CopyTo(gradient.Span);
        factor = new AlignedArray<float>(N * N);
        factors = new KroneckerFactors<float>(N, N, beta2: 1.0, Blas);
    }

    /// <summary>C += G·Gᵀ, upper triangle only.</summary>
    [Benchmark, Flops(nameof(SyrkFlops), FlopPrecision.Single)]
    public void Syrk() => SymmetricRankUpdate.Update<float>(
        new MatrixView<float>(gradient.Span, N, N), false, new MatrixView<float>(factor.Span, N, N), 1f, 1f, mirrorLower: false, Blas);

    /// <summary>Copies the upper triangle onto the lower one (what the first read of a factor after updates does).</summary>
    [Benchmark]
    public void MirrorUpper() => SymmetricRankUpdate.MirrorUpper(new MatrixView<float>(factor.Span, N, N));

    /// <summary>L += G·Gᵀ and R += Gᵀ·G, upper triangles.</summary>
    [Benchmark, Flops(nameof(AccumulateFlops), FlopPrecision.Single)]
    public void Accumulate() => factors.Accumulate(new MatrixView<float>(gradient.Span, N, N));

    internal static double SyrkFlops(ParameterInstances p)
    {
        var n = FlopModel.IntParameter(p, nameof(N));
        return Flops.Syrk(n, n);
    }

    internal static double AccumulateFlops(ParameterInstances p)
    {
        var n = FlopModel.IntParameter(p, nameof(N));
        return Flops.Accumulate(n, n);
    }

    /// <summary>Frees the buffers.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        gradient.Dispose();
        factor.Dispose();
        factors.Dispose();
    }
}
