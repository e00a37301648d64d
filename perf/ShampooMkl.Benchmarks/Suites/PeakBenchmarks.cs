using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Benchmarks.Suites;

/// <summary>Square gemm at n = 2048: the attainable peak every other rate of the run is a percentage of.</summary>
/// <remarks>2048 rather than 1024: large enough that packing and threading overheads are amortised (the roofline's
/// ceiling), small enough (17 GFLOP) to time in a fraction of a second.</remarks>
public class PeakBenchmarks : BackendBenchmark
{
    private const int Size = 2048;
    private AlignedArray<double> da = null!, db = null!, dc = null!;
    private AlignedArray<float> sa = null!, sb = null!, sc = null!;

    /// <summary>Allocates and fills the operands.</summary>
    [GlobalSetup]
    public void Setup()
    {
        LoadBackend();
        var n2 = Size * Size;
        (da, db, dc) = (new(n2), new(n2), new(n2));
        (sa, sb, sc) = (new(n2), new(n2), new(n2));
        Workloads.Gaussian(1, n2).CopyTo(da.Span);
        Workloads.Gaussian(2, n2).CopyTo(db.Span);
        Workloads.GaussianSingle(1, n2).CopyTo(sa.Span);
        Workloads.GaussianSingle(2, n2).CopyTo(sb.Span);
    }

    /// <summary>C = A·B in fp64.</summary>
    [Benchmark, Peak, Flops(nameof(GemmFlops), FlopPrecision.Double)]
    public void Dgemm() => MatrixProduct.Multiply<double>(
        new MatrixView<double>(da.Span, Size, Size), false, new MatrixView<double>(db.Span, Size, Size), false,
        new MatrixView<double>(dc.Span, Size, Size), 1.0, 0.0, Blas);

    /// <summary>C = A·B in fp32.</summary>
    [Benchmark, Peak, Flops(nameof(GemmFlops), FlopPrecision.Single)]
    public void Sgemm() => MatrixProduct.Multiply<float>(
        new MatrixView<float>(sa.Span, Size, Size), false, new MatrixView<float>(sb.Span, Size, Size), false,
        new MatrixView<float>(sc.Span, Size, Size), 1f, 0f, Blas);

    internal static double GemmFlops(ParameterInstances parameters) => Flops.Gemm(Size, Size, Size);

    /// <summary>Frees the operands.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var a in new IDisposable[] { da, db, dc, sa, sb, sc })
        {
            a.Dispose();
        }
    }
}
