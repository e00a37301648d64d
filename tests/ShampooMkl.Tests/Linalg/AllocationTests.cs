using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Native;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Linalg;

/// <summary>The optimizer step must not allocate managed memory in steady state (no GC pauses inside training).</summary>
/// <remarks>Counted per thread, so tests running in parallel on other threads do not disturb the count.
/// Each call is made 20 times after a warm-up that has JIT-compiled it and filled the pools.</remarks>
public class AllocationTests
{
    private const int Calls = 20;

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Multiply_AllocatesNothingAfterWarmUp(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        var a = SeededRandom.Gaussian(1, 12 * 7);
        var b = SeededRandom.Gaussian(2, 7 * 9);
        var c = new double[12 * 9];
        var af = SeededRandom.GaussianSingle(1, 12 * 7);
        var bf = SeededRandom.GaussianSingle(2, 7 * 9);
        var cf = new float[12 * 9];

        void Run()
        {
            MatrixProduct.Multiply<double>(new ReadOnlyMatrixView<double>(a, 12, 7), false, new ReadOnlyMatrixView<double>(b, 7, 9), false,
                new MatrixView<double>(c, 12, 9), 1.0, 0.5, lib);
            MatrixProduct.Multiply<float>(new ReadOnlyMatrixView<float>(af, 7, 12), true, new ReadOnlyMatrixView<float>(bf, 9, 7), true,
                new MatrixView<float>(cf, 12, 9), 1f, 0f, lib);
            // K = 0 takes the managed scaling path.
            MatrixProduct.Multiply<double>(new ReadOnlyMatrixView<double>(a, 12, 0, 1), false, new ReadOnlyMatrixView<double>(b, 0, 9), false,
                new MatrixView<double>(c, 12, 9), 1.0, 0.5, lib);
        }

        AssertNoAllocation(Run);
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Update_AllocatesNothingAfterWarmUp(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        var a = SeededRandom.Gaussian(3, 10 * 6);
        var c = new double[10 * 10];
        var af = SeededRandom.GaussianSingle(3, 10 * 6);
        var cf = new float[6 * 6];

        void Run()
        {
            SymmetricRankUpdate.Update<double>(new ReadOnlyMatrixView<double>(a, 10, 6), false, new MatrixView<double>(c, 10, 10), 1.0, 0.9, true, lib);
            SymmetricRankUpdate.Update<float>(new ReadOnlyMatrixView<float>(af, 10, 6), true, new MatrixView<float>(cf, 6, 6), 1f, 0.9f, true, lib);
        }

        AssertNoAllocation(Run);
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void InverseRoot_AllocatesNothingAfterWarmUp(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 16;
        var a = SeededRandom.SymmetricPositiveDefinite(4, n);
        var af = a.Select(x => (float)x).ToArray();
        var x = new double[n * n];
        var xf = new float[n * n];
        using var full = new InverseRoot(n, lib, new BufferPool());
        using var warm = new InverseRoot(n, lib, new BufferPool());

        void Run()
        {
            full.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x, n, n));
            full.Compute<float>(new ReadOnlyMatrixView<float>(af, n, n), 2, 1e-6, new MatrixView<float>(xf, n, n));
            warm.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x, n, n), InverseRootMethod.EigenbasisWarmStart);
        }

        AssertNoAllocation(Run);
    }

    [Fact]
    public void AllocationCounter_SeesASmallAllocation()
    {
        // Positive control: the zero-allocation assertions above would pass vacuously if the counter missed
        // small objects served from the thread's allocation context.
        object? sink = null;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            sink = new object();
        }

        Assert.NotNull(sink);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before >= Calls * IntPtr.Size);
    }

    private static void AssertNoAllocation(Action run)
    {
        // Warm-up: tier-0 JIT, the pools' first blocks, the warm start's lazily created QR and basis.
        for (var i = 0; i < 3; i++)
        {
            run();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            run();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{Calls} calls allocated {allocated} managed bytes.");
    }
}
