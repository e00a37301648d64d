using System.Collections.Concurrent;
using ShampooMkl.Distributed;
using ShampooMkl.Linalg;
using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Native;

namespace ShampooMkl.Tests.Optim;

/// <summary>The refresh scheduler: results independent of the parallelism, small blocks side by side on one BLAS thread
/// each, large blocks alone on every BLAS thread.</summary>
/// <remarks>In a collection of its own that runs after the parallel tests: with OpenBLAS the scheduler sets the
/// process-wide thread count, which would change the bits of other tests' OpenBLAS calls made meanwhile.</remarks>
[Collection(nameof(BlasThreadSettings))]
public class RefreshSchedulerTests
{
    private const int ThreadedMinDim = 128;
    private const int Steps = 3;

    /// <summary>Four 128×128 blocks (large at <see cref="ThreadedMinDim"/>) and small blocks of orders 78–120, which MKL
    /// and OpenBLAS would run on two threads if nothing limited them, so a thread count that depended on the
    /// parallelism would show in the bits.</summary>
    private static Parameter[] Model() =>
    [
        new("big", Gaussian(1, 256 * 256), 256, 256),
        new("a", Gaussian(2, 100 * 90), 100, 90),
        new("b", Gaussian(3, 120 * 64), 120, 64),
        new("c", Gaussian(4, 96 * 110), 96, 110),
        new("d", Gaussian(5, 80 * 80), 80, 80),
        new("bias", Gaussian(6, 80), 80),
    ];

    private static ShampooOptions Options(int parallelism) => ShampooOptions.Shampoo with
    {
        MaxPreconditionerDim = 128,
        StartPreconditioningStep = 1,
        PreconditionFrequency = 1,
        RefreshParallelism = parallelism,
        ThreadedRefreshMinDim = ThreadedMinDim,
        Grafting = GraftingType.Adam,
    };

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Results_AreBitIdentical_ForEveryParallelism(BlasBackendKind kind)
    {
        var blas = Backends.Get(kind);
        var (reference, _) = Train(blas, parallelism: 1);
        foreach (var parallelism in new[] { 2, 4 })
        {
            var (state, _) = Train(blas, parallelism);
            OptimTestData.AssertSameState(reference, state, $"{kind}, parallelism {parallelism} against 1");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void SmallBlocks_RunSideBySide_OnOneBlasThread_LargeBlocksAlone_OnAll(BlasBackendKind kind)
    {
        var blas = Backends.Get(kind);
        var configured = blas.MaxThreads;
        var parameters = Model();
        using var optimizer = new Shampoo(parameters, Options(parallelism: 2), blas);
        var scheduler = optimizer.Scheduler;
        var seen = new ConcurrentBag<(bool Threaded, int Threads, int InFlight)>();
        scheduler.BlockStarting = (_, threaded) =>
        {
            if (!threaded && scheduler.PeakConcurrency < 2)
            {
                // Hold the first small block until a second one is in flight: proof of overlap by counting, not timing.
                SpinWait.SpinUntil(() => scheduler.PeakConcurrency >= 2, TimeSpan.FromSeconds(20));
            }

            seen.Add((threaded, blas.MaxThreads, scheduler.InFlight));
        };

        for (var step = 1; step <= Steps; step++)
        {
            OptimTestData.SetGradients(parameters, step);
            Assert.True(optimizer.Step().RefreshedRoots);
        }

        // 256×256 at dim 128 is four 128×128 blocks; a, b, c, d are one block each.
        var large = configured > 1 ? 4 : 0;
        Assert.Equal(large * Steps, scheduler.ThreadedBlocks);
        Assert.Equal((8 - large) * Steps, scheduler.ParallelBlocks);
        Assert.True(scheduler.PeakConcurrency >= 2, $"Small blocks never overlapped (peak {scheduler.PeakConcurrency}).");
        Assert.All(seen.Where(s => !s.Threaded), s => Assert.Equal(1, s.Threads));
        Assert.All(seen.Where(s => s.Threaded), s => Assert.Equal((configured, 0), (s.Threads, s.InFlight)));
        Assert.Equal(configured, blas.MaxThreads);
    }

    [Fact]
    public void AllBlocksAreSmall_WhenBlasHasOneThread()
    {
        var scheduler = new RefreshScheduler(BlasBackend.Default, parallelism: 2, threadedMinDim: 4);

        Assert.False(scheduler.IsThreaded(1000, 1000, blasThreads: 1));
        Assert.True(scheduler.IsThreaded(3, 4, blasThreads: 2));
        Assert.False(scheduler.IsThreaded(3, 3, blasThreads: 2));
    }

    [Fact]
    public void SingleProcessCommunicator_GivesTheSameBitsAsNone()
    {
        var blas = BlasBackend.Default;
        var (alone, _) = Train(blas, parallelism: 2);
        using var communicator = new SingleProcessCommunicator();
        var (withCommunicator, optimizer) = Train(blas, parallelism: 2, communicator);

        OptimTestData.AssertSameState(alone, withCommunicator, "single-process communicator against none");
        Assert.Null(optimizer.Ownership);
    }

    [Fact]
    public void ThreadedRefreshMinDim_BelowOne_IsRefused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => (ShampooOptions.Shampoo with { ThreadedRefreshMinDim = 0 }).Validate());
        Assert.Equal(nameof(ShampooOptions.ThreadedRefreshMinDim), error.ParamName);
    }

    private static (IReadOnlyList<StateTensor> State, Shampoo Optimizer) Train(BlasBackend blas, int parallelism, ICommunicator? communicator = null)
    {
        var parameters = Model();
        var optimizer = new Shampoo(parameters, Options(parallelism), blas, communicator);
        for (var step = 1; step <= Steps; step++)
        {
            OptimTestData.SetGradients(parameters, step);
            var result = optimizer.Step();
            Assert.True(result.RefreshedRoots && result.Message is null, result.Message);
        }

        var state = optimizer.ExportState();
        optimizer.Dispose();
        return (state, optimizer);
    }

    private static float[] Gaussian(int seed, int length) => Reference.SeededRandom.GaussianSingle(seed, length);
}

/// <summary>Tests that change BLAS thread settings run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(BlasThreadSettings), DisableParallelization = true)]
public sealed class BlasThreadSettings
{
}
