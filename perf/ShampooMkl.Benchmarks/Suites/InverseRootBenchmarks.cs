using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Benchmarks.Suites;

/// <summary>A⁻¹ᐟ⁴ of an N×N statistic three ways, all in fp64: full syevd, eigenbasis warm start (one QR power step from
/// the previous refresh's basis), and the gemm-only coupled Newton iteration.</summary>
/// <remarks>The input is the statistic of <see cref="Workloads.Statistic"/> after "ten more gradients"
/// (<see cref="Workloads.Perturbed"/>), κ ≈ 40; the warm start begins from the exact basis of the earlier statistic.
/// Newton's step count depends on κ, so the case records it (<see cref="BenchCounters"/>) for its flop count.</remarks>
public class InverseRootBenchmarks : BackendBenchmark
{
    private const double Root = 4;
    private const double Epsilon = 1e-12;
    private double[] current = null!;
    private AlignedArray<double> result = null!;
    private InverseRoot full = null!;
    private InverseRoot warm = null!;
    private CoupledNewtonInverseRoot newton = null!;

    /// <summary>Matrix order.</summary>
    [Params(256, 512, 1024)]
    public int N { get; set; }

    /// <summary>Builds the statistics, primes the warm start's basis and counts Newton's iterations.</summary>
    [GlobalSetup]
    public void Setup()
    {
        LoadBackend();
        var previous = Workloads.Statistic(21, N, Blas);
        current = Workloads.Perturbed(previous, 22, N, Blas);
        result = new AlignedArray<double>(N * N);
        full = new InverseRoot(N, Blas);
        warm = new InverseRoot(N, Blas);
        if (warm.Compute<double>(new ReadOnlyMatrixView<double>(previous, N, N), Root, Epsilon, Output, InverseRootMethod.EigenbasisWarmStart) != InverseRootStatus.Success)
        {
            throw new InvalidOperationException("The warm start's first (full) decomposition failed.");
        }

        newton = new CoupledNewtonInverseRoot(N, blas: Blas);
        var outcome = newton.Compute<double>(Input, (int)Root, Epsilon, Output);
        if (!outcome.Succeeded)
        {
            throw new InvalidOperationException($"Coupled Newton did not converge: {outcome}.");
        }

        BenchCounters.Record(NewtonKey(N, Backend.ToString()), outcome.Iterations);
        Console.WriteLine($"// Coupled Newton, N={N}: {outcome.Iterations} iterations, residual {outcome.Residual:E2}");
    }

    private ReadOnlyMatrixView<double> Input => new(current, N, N);

    private MatrixView<double> Output => new(result.Span, N, N);

    /// <summary>syevd, then Eᵀ·D·E.</summary>
    [Benchmark, Flops(nameof(FullFlops), FlopPrecision.Double)]
    public int Eigendecomposition() => (int)full.Compute<double>(Input, Root, Epsilon, Output, InverseRootMethod.Eigendecomposition);

    /// <summary>One subspace step from the previous basis (gemm + QR), Rayleigh quotients, then Eᵀ·D·E.</summary>
    [Benchmark, Flops(nameof(WarmFlops), FlopPrecision.Double)]
    public int WarmStart() => (int)warm.Compute<double>(Input, Root, Epsilon, Output, InverseRootMethod.EigenbasisWarmStart);

    /// <summary>Coupled Newton to max|M − I| ≤ 10⁻⁶.</summary>
    [Benchmark, Flops(nameof(NewtonFlops), FlopPrecision.Double)]
    public int CoupledNewton() => newton.Compute<double>(Input, (int)Root, Epsilon, Output).Iterations;

    internal static string NewtonKey(int n, string backend) => $"newton-iterations-{n}-{backend}";

    internal static double FullFlops(ParameterInstances p) => Flops.InverseRootFull(FlopModel.IntParameter(p, nameof(N)));

    internal static double WarmFlops(ParameterInstances p) => Flops.InverseRootWarm(FlopModel.IntParameter(p, nameof(N)));

    internal static double NewtonFlops(ParameterInstances p)
    {
        var n = FlopModel.IntParameter(p, nameof(N));
        var iterations = BenchCounters.Read(NewtonKey(n, p[nameof(Backend)]?.ToString() ?? ""));
        return iterations is { } it ? Flops.CoupledNewton(n, (int)Root, (int)it) : double.NaN;
    }

    /// <summary>Frees the solvers and buffers.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        full.Dispose();
        warm.Dispose();
        result.Dispose();
    }
}
