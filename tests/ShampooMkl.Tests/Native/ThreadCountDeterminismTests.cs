using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Optim;
using Xunit.Abstractions;

namespace ShampooMkl.Tests.Native;

/// <summary>The premise of the refresh scheduler: BLAS repeats its bits for the same thread count, but not across
/// thread counts, so a block's thread count must never depend on scheduling.</summary>
/// <remarks>Run with <c>--logger "console;verbosity=detailed"</c> to see how many elements differ between 1 and 2 threads.</remarks>
[Collection(nameof(BlasThreadSettings))]
public sealed class ThreadCountDeterminismTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void InverseRoot_RepeatsItsBits_ForTheSameThreadCount(BlasBackendKind kind)
    {
        var blas = Backends.Get(kind);
        foreach (var n in new[] { 128, 256 })
        {
            // A Gram matrix like a Shampoo statistic (G·Gᵀ of a wider G), not shifted.
            var matrix = Reference.SeededRandom.SymmetricPositiveDefinite(n, n, shift: 0, rank: n + 17);
            var one = Root(blas, matrix, n, threads: 1);
            Assert.Equal(one, Root(blas, matrix, n, threads: 1));
            if (blas.MaxThreads < 2)
            {
                continue;
            }

            var two = Root(blas, matrix, n, threads: 2);
            Assert.Equal(two, Root(blas, matrix, n, threads: 2));
            var differing = one.Zip(two).Count(p => p.First != p.Second);
            output.WriteLine($"{kind} order {n}: {differing} of {one.Length} elements of (A + εI)^(-1/4) differ between 1 and 2 threads");
        }
    }

    private static long[] Root(BlasBackend blas, double[] matrix, int n, int threads)
    {
        // MKL: this thread alone; OpenBLAS: process-wide, which is why this class runs apart from the parallel tests.
        var local = blas.HasThreadLocalLimit ? blas.SetCallingThreadThreads(threads) : -1;
        var global = blas.MaxThreads;
        if (!blas.HasThreadLocalLimit)
        {
            blas.SetThreads(threads);
        }

        try
        {
            using var solver = new InverseRoot(n, blas);
            var result = new double[n * n];
            Assert.Equal(InverseRootStatus.Success, solver.Compute<double>(new ReadOnlyMatrixView<double>(matrix, n, n), 4, 1e-12, new MatrixView<double>(result, n, n)));
            return result.Select(BitConverter.DoubleToInt64Bits).ToArray();
        }
        finally
        {
            blas.RestoreThreads(local);
            if (!blas.HasThreadLocalLimit)
            {
                blas.SetThreads(global);
            }
        }
    }
}
