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

    /// <summary>One 128×128 block that is dominant on two threads (2·128³ = 4.2M against 1.7M for all others, whose
    /// orders 30–80 stay below <see cref="ThreadedMinDim"/> and the dominance floor of 100 the test sets), so only the
    /// cost rule threads it.</summary>
    private static Parameter[] DominantModel() =>
    [
        new("w", Gaussian(11, 128 * 128), 128, 128),
        new("a", Gaussian(12, 64 * 48), 64, 48),
        new("b", Gaussian(13, 60 * 40), 60, 40),
        new("c", Gaussian(14, 50 * 70), 50, 70),
        new("d", Gaussian(15, 80 * 30), 80, 30),
        new("bias", Gaussian(16, 64), 64),
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
    public void Results_AreBitIdentical_ForEveryParallelism_WithADominantBlock(BlasBackendKind kind)
    {
        var blas = Backends.Get(kind);
        var options = Options(1) with { ThreadedRefreshMinDim = 2048, DominantRefreshMinDim = 100 };
        var (reference, first) = Train(blas, 1, model: DominantModel, options: options);
        Assert.Equal(blas.MaxThreads > 1 ? Steps : 0, first.Scheduler.ThreadedBlocks);
        foreach (var parallelism in new[] { 2, 4 })
        {
            var (state, optimizer) = Train(blas, parallelism, model: DominantModel, options: options with { RefreshParallelism = parallelism });
            OptimTestData.AssertSameState(reference, state, $"{kind}, parallelism {parallelism} against 1");
            Assert.Equal(first.Scheduler.ThreadedBlocks, optimizer.Scheduler.ThreadedBlocks);
        }
    }

    /// <summary>The rule on the 784-256-128-10 MLP (blocks 256×784, 128×256, 10×128): the 256×784 block is 96% of the
    /// work and dominant; then 128×256 outweighs what is left beside it (10×128), and the last block left is dominant
    /// by definition. A floor of 512 leaves the small ones side by side; with one BLAS thread nothing is threaded.</summary>
    [Fact]
    public void Mlp_EveryBlockIsDominant_OnTwoThreads()
    {
        (int, int)[] mlp = [(256, 784), (128, 256), (10, 128)];
        var scheduler = Scheduler(mlp, dominantMinDim: ShampooOptions.Shampoo.DominantRefreshMinDim);

        Assert.Equal([true, true, true], Decisions(scheduler, mlp, blasThreads: 2));
        Assert.Equal(BlockOwnership.InverseRootCost(10, 128), scheduler.DominantCost(2));
        Assert.Equal([false, false, false], Decisions(scheduler, mlp, blasThreads: 1));
        Assert.Equal([true, false, false], Decisions(Scheduler(mlp, dominantMinDim: 512), mlp, blasThreads: 2));
        Assert.Equal([false, false, false], Decisions(Scheduler(mlp, dominantMinDim: int.MaxValue), mlp, blasThreads: 2));
    }

    /// <summary>Eight equal 1024×1024 blocks: none alone exceeds an even share on 2 threads (2c ≤ 8c), so all run
    /// single-threaded side by side; only with more threads than blocks (16c &gt; 8c) is each given every thread. Ties
    /// always get one answer.</summary>
    [Fact]
    public void EqualBlocks_AreNotDominant_UnlessThereAreMoreThreadsThanBlocks()
    {
        var blocks = Enumerable.Repeat((1024, 1024), 8).ToArray();
        var scheduler = Scheduler(blocks);

        Assert.All(Decisions(scheduler, blocks, blasThreads: 2), Assert.False);
        Assert.All(Decisions(scheduler, blocks, blasThreads: 8), Assert.False);
        Assert.All(Decisions(scheduler, blocks, blasThreads: 16), Assert.True);
        // Two equal blocks on two threads: c·2 = 2c is not more than an even share.
        Assert.All(Decisions(Scheduler([(512, 512), (512, 512)]), [(512, 512), (512, 512)], blasThreads: 2), Assert.False);
    }

    /// <summary>One large block among many tiny ones is dominant; the tiny ones are not (each is far below half of all
    /// the tiny ones together), and neither is the smallest, although it would be if it were left alone.</summary>
    [Fact]
    public void OneBigBlock_AmongManyTiny_IsTheOnlyDominantOne()
    {
        var blocks = new[] { (1024, 1024) }.Concat(Enumerable.Repeat((16, 16), 50)).Append((8, 8)).ToArray();
        var scheduler = Scheduler(blocks);

        var threaded = Decisions(scheduler, blocks, blasThreads: 2);
        Assert.True(threaded[0]);
        Assert.All(threaded.Skip(1), Assert.False);
        Assert.Equal(BlockOwnership.InverseRootCost(1024, 1024), scheduler.DominantCost(2));
    }

    [Fact]
    public void DominanceIsOff_OrOneThread_LeavesOnlyTheMinDimOverride()
    {
        var blocks = new[] { (1024, 1024), (16, 16), (3000, 8) };
        var off = Scheduler(blocks, dominantMinDim: int.MaxValue, threadedMinDim: 2048);

        Assert.Equal([false, false, true], Decisions(off, blocks, blasThreads: 2));
        Assert.Equal(double.PositiveInfinity, off.DominantCost(2));
        Assert.Equal([false, false, false], Decisions(Scheduler(blocks, threadedMinDim: 2048), blocks, blasThreads: 1));
    }

    /// <summary>Distributed, each rank runs only its owned blocks, but decides from the whole model. Costs 46³ + 1,
    /// 3 × (31³ + 1) and 22³ + 1 (97337, 3 × 29792, 10649): on 2 threads the first is not dominant (2 × 97337 ≤ 197361);
    /// two ranks own {0} and {1, 2, 3, 4}, and a rank that decided from its own blocks alone would thread block 0
    /// (2 × 97337 &gt; 97337) and change its bits.</summary>
    [Fact]
    public void OwnedSubset_GetsTheSameDecisions_AsTheWholeModel()
    {
        (int, int)[] blocks = [(46, 1), (31, 1), (31, 1), (31, 1), (22, 1)];
        var costs = blocks.Select(b => BlockOwnership.InverseRootCost(b.Item1, b.Item2)).ToArray();
        var ownership = BlockOwnership.Assign(costs, rankCount: 2);
        Assert.Equal([0], ownership.ItemsOf(0).ToArray());
        var whole = RunAndRecord(Scheduler(blocks), blocks);
        Assert.All(whole, Assert.False);

        for (var rank = 0; rank < 2; rank++)
        {
            var mine = ownership.ItemsOf(rank).ToArray();
            var owned = mine.Select(i => blocks[i]).ToArray();
            var onRank = RunAndRecord(Scheduler(blocks), owned);
            Assert.Equal(mine.Select(i => whole[i]), onRank);
        }

        // What rank 0 would wrongly decide from its own block alone.
        Assert.Equal([true], RunAndRecord(Scheduler([blocks[0]]), [blocks[0]]));
    }

    [Fact]
    public void Shampoo_DecidesFromEveryBlockOfEveryParameter()
    {
        // Costs 512³·2 = 268M, 400³·2 = 128M, 420³·2 = 148M: on 2 threads the first is not dominant (537M ≤ 545M), but
        // it would be if the optimizer left out the last parameter (537M > 396M, then 256M > 128M); on 3 threads all
        // are (805M > 545M, 445M > 276M, 384M > 128M). The bias has no Kronecker block.
        Parameter[] parameters =
        [
            new("a", new float[512 * 512], 512, 512),
            new("b", new float[400 * 400], 400, 400),
            new("c", new float[420 * 420], 420, 420),
            new("bias", new float[128], 128),
        ];
        using var optimizer = new Shampoo(parameters, ShampooOptions.Shampoo, BlasBackend.Default);
        var expected = Scheduler([(512, 512), (400, 400), (420, 420)]);

        Assert.Equal(double.PositiveInfinity, optimizer.Scheduler.DominantCost(2));
        Assert.Equal(expected.DominantCost(3), optimizer.Scheduler.DominantCost(3));
        Assert.Equal(BlockOwnership.InverseRootCost(400, 400), optimizer.Scheduler.DominantCost(3));
        Assert.Equal(BlockOwnership.InverseRootCost(400, 400), Scheduler([(512, 512), (400, 400)]).DominantCost(2));
        using var off = new Shampoo(parameters, ShampooOptions.Shampoo with { DominantRefreshMinDim = int.MaxValue }, BlasBackend.Default);
        Assert.Equal(int.MaxValue, off.Scheduler.DominantMinDim);
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

            seen.Add((threaded, blas.CurrentThreads, scheduler.InFlight));
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
        using var scheduler = new RefreshScheduler(BlasBackend.Default, parallelism: 2, threadedMinDim: 4, [(3, 3), (3, 3), (3, 4), (1000, 1000)],
            dominantMinDim: int.MaxValue);

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

    /// <summary>A block that throws on the calling thread or on a helper thread surfaces from Run; the helpers survive it
    /// and the next Run refreshes every block exactly once.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FailingBlock_IsRethrown_FromEitherThread_AndTheSchedulerStaysUsable(bool onHelper)
    {
        (int Rows, int Cols)[] blocks = [(3, 3), (3, 4), (4, 4), (2, 2), (3, 2), (2, 4)];
        using var scheduler = Scheduler(blocks, dominantMinDim: int.MaxValue);
        var results = new RootRefreshResult[blocks.Length];
        var caller = Environment.CurrentManagedThreadId;
        var rendezvous = new TwoThreadRendezvous();
        var error = Assert.Throws<InvalidOperationException>(() => scheduler.Run(blocks.Length, i => blocks[i], i =>
        {
            // Whichever thread starts first waits for the other, so the caller and a helper both run blocks.
            rendezvous.Arrive();
            var isHelper = Environment.CurrentManagedThreadId != caller;
            return isHelper == onHelper ? throw new InvalidOperationException(isHelper ? "helper" : "caller") : new RootRefreshResult(true, 1, 0, null);
        }, results));
        Assert.True(rendezvous.Met, "The caller and a helper did not both take a block.");
        Assert.Equal(onHelper ? "helper" : "caller", error.Message);

        var refreshed = new int[blocks.Length];
        scheduler.Run(blocks.Length, i => blocks[i], i =>
        {
            Interlocked.Increment(ref refreshed[i]);
            return new RootRefreshResult(true, 1, 0, null);
        }, results);
        Assert.All(refreshed, count => Assert.Equal(1, count));
    }

    /// <summary>Run refuses a second, re-entrant Run (which would corrupt the shared queue); a Dispose during a refresh
    /// lets that refresh finish (helpers already released still work and count down) and makes later Runs refuse.</summary>
    [Fact]
    public async Task Run_IsNotReentrant_AndDisposeDuringARefresh_LetsItFinish()
    {
        (int Rows, int Cols)[] blocks = [(3, 3), (3, 4), (4, 4), (2, 2), (3, 2), (2, 4)];
        var scheduler = Scheduler(blocks, dominantMinDim: int.MaxValue);
        var results = new RootRefreshResult[blocks.Length];
        var reentry = Assert.Throws<InvalidOperationException>(() => scheduler.Run(blocks.Length, i => blocks[i],
            _ => { scheduler.Run(1, i => blocks[i], _ => new RootRefreshResult(true, 1, 0, null), results); return new RootRefreshResult(true, 1, 0, null); },
            results));
        Assert.Contains("not re-entrant", reentry.Message);

        var refreshed = new int[blocks.Length];
        var disposedOnce = 0;
        var run = Task.Run(() => scheduler.Run(blocks.Length, i => blocks[i], i =>
        {
            if (Interlocked.Exchange(ref disposedOnce, 1) == 0)
            {
                scheduler.Dispose();
            }

            Interlocked.Increment(ref refreshed[i]);
            return new RootRefreshResult(true, 1, 0, null);
        }, results));
        // A hang detector, not a timing check: the refresh takes microseconds (WaitAsync throws TimeoutException on a hang).
        await run.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(refreshed, count => Assert.Equal(1, count));
        Assert.Throws<ObjectDisposedException>(() => scheduler.Run(blocks.Length, i => blocks[i], _ => new RootRefreshResult(true, 1, 0, null), results));
    }

    [Fact]
    public void DominantRefreshMinDim_BelowOne_IsRefused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => (ShampooOptions.Shampoo with { DominantRefreshMinDim = 0 }).Validate());
        Assert.Equal(nameof(ShampooOptions.DominantRefreshMinDim), error.ParamName);
        Assert.Equal(1, ShampooOptions.Shampoo.DominantRefreshMinDim);
    }

    private static RefreshScheduler Scheduler((int Rows, int Cols)[] modelBlocks, int dominantMinDim = 1, int threadedMinDim = 4096) =>
        new(BlasBackend.Default, parallelism: 2, threadedMinDim, modelBlocks, dominantMinDim);

    private static bool[] Decisions(RefreshScheduler scheduler, (int Rows, int Cols)[] blocks, int blasThreads) =>
        blocks.Select(b => scheduler.IsThreaded(b.Rows, b.Cols, blasThreads)).ToArray();

    /// <summary>Runs <paramref name="blocks"/> through the scheduler with a no-op refresh and returns, per block, whether
    /// it ran in the threaded phase (with the default backend's threads, forced to 2 when it has more).</summary>
    private static bool[] RunAndRecord(RefreshScheduler scheduler, (int Rows, int Cols)[] blocks)
    {
        var blas = BlasBackend.Default;
        var configured = blas.MaxThreads;
        blas.SetThreads(2);
        try
        {
            var threaded = new bool[blocks.Length];
            var ran = new bool[blocks.Length];
            scheduler.BlockStarting = (i, isThreaded) => (threaded[i], ran[i]) = (isThreaded, true);
            scheduler.Run(blocks.Length, i => blocks[i], _ => new RootRefreshResult(true, 1, 0, null), new RootRefreshResult[blocks.Length]);
            Assert.All(ran, Assert.True);
            return threaded;
        }
        finally
        {
            blas.SetThreads(configured);
            scheduler.Dispose();
        }
    }

    private static (IReadOnlyList<StateTensor> State, Shampoo Optimizer) Train(BlasBackend blas, int parallelism, ICommunicator? communicator = null,
        Func<Parameter[]>? model = null, ShampooOptions? options = null)
    {
        var parameters = (model ?? Model)();
        var optimizer = new Shampoo(parameters, options ?? Options(parallelism), blas, communicator);
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
