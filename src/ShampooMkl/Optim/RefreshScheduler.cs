using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Runs the root refreshes of one step: blocks that dominate the refresh one at a time with every BLAS thread,
/// the others several at once with one BLAS thread each.</summary>
/// <remarks>
/// <para>Why: threaded BLAS inside blocks that are themselves refreshed in parallel oversubscribes the cores (two
/// blocks × two MKL threads on two cores), and a small eigendecomposition gains little from a second thread while a
/// large one does. But a block whose work alone exceeds an even share of the step's work sets the step's length
/// whatever the others do, so it should have every thread.</para>
/// <para>Which blocks run threaded is decided by <see cref="RefreshPolicy"/> (a function of shapes and the configured
/// BLAS threads only, so results are bit-identical for every parallelism and rank count); this type executes it.</para>
/// <para>Thread limits: MKL limits each worker thread alone (<c>MKL_Set_Num_Threads_Local</c>), restored when the
/// worker ends. OpenBLAS has only a process-wide count, so it is set to 1 for the whole small phase and restored
/// after: any other thread of the process calling OpenBLAS meanwhile also runs on one thread.</para>
/// <para>Order: threaded blocks first, then single-threaded ones from a shared queue, each phase largest cost first, so
/// the last block a worker picks up is a short one (longest-processing-time-first).</para>
/// </remarks>
internal sealed class RefreshScheduler : IDisposable
{
    private readonly BlasBackend blas;
    private int[] large = [];
    private int[] small = [];
    private double[] costs = [];
    private int next;
    private int inFlight;
    // The single-threaded phase's helper threads (Parallelism − 1 of them; the calling thread is the last worker):
    // started on first need and reused, because Parallel.For allocates per call and borrows pool threads that
    // a host may be starving; with them a refresh step allocates nothing. A helper idle for HelperIdleTimeout ends, so
    // the threads of a scheduler nobody disposed do not live (and keep it reachable) for the rest of the process.
    private static readonly TimeSpan HelperIdleTimeout = TimeSpan.FromSeconds(30);
    private readonly object gate = new();
    private int aliveHelpers;
    private int generation;
    private int helpersRunning;
    private bool disposed;
    private int running;
    private Exception? helperFailure;
    private int currentCount;
    private Func<int, RootRefreshResult>? currentRefresh;
    private RootRefreshResult[]? currentResults;
    private int peakConcurrency;
    private long parallelBlocks;

    /// <summary>A scheduler for a model with the given blocks.</summary>
    /// <param name="blas">The backend whose threads are limited.</param>
    /// <param name="parallelism">Most single-threaded blocks refreshed at once.</param>
    /// <param name="threadedMinDim">Blocks with a side at least this long are always threaded.</param>
    /// <param name="modelBlocks">The shape of every Kronecker block of the whole model (all parameters, every rank's
    /// blocks), whichever of them a step refreshes; it decides which blocks are dominant.</param>
    /// <param name="dominantMinDim">Dominant blocks with a side at least this long are threaded too; int.MaxValue: none.</param>
    public RefreshScheduler(BlasBackend blas, int parallelism, int threadedMinDim, IEnumerable<(int Rows, int Cols)> modelBlocks,
        int dominantMinDim)
        : this(blas, parallelism, new RefreshPolicy(threadedMinDim, modelBlocks, dominantMinDim))
    {
    }

    /// <summary>A scheduler applying <paramref name="policy"/> (the one of the optimizer's block table).</summary>
    /// <param name="blas">The backend whose threads are limited.</param>
    /// <param name="parallelism">Most single-threaded blocks refreshed at once.</param>
    /// <param name="policy">Which blocks run threaded.</param>
    public RefreshScheduler(BlasBackend blas, int parallelism, RefreshPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(blas);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        this.blas = blas;
        Parallelism = parallelism;
        Policy = policy;
    }

    /// <summary>Most single-threaded blocks refreshed at once.</summary>
    public int Parallelism { get; }

    /// <summary>Blocks with a side at least this long run alone with every BLAS thread.</summary>
    public int ThreadedMinDim => Policy.ThreadedMinDim;

    /// <summary>Blocks with a side at least this long run alone with every BLAS thread when they dominate the refresh.</summary>
    public int DominantMinDim => Policy.DominantMinDim;

    /// <summary>Blocks refreshed alone with every BLAS thread, since construction.</summary>
    public long ThreadedBlocks { get; private set; }

    /// <summary>Blocks refreshed with one BLAS thread (possibly alongside others), since construction.</summary>
    public long ParallelBlocks => Interlocked.Read(ref parallelBlocks);

    /// <summary>Most single-threaded blocks seen in flight at the same moment, since construction: a count, not a timing,
    /// so tests can prove that blocks overlapped.</summary>
    public int PeakConcurrency => Volatile.Read(ref peakConcurrency);

    /// <summary>Test hook called on the thread that is about to refresh block <c>index</c>; <c>threaded</c> tells the phase.</summary>
    public Action<int, bool>? BlockStarting { get; set; }

    /// <summary>The dominance rule this scheduler applies.</summary>
    public RefreshPolicy Policy { get; }

    /// <summary>Whether a block of this shape runs alone with every BLAS thread (see <see cref="RefreshPolicy.IsThreaded"/>).</summary>
    public bool IsThreaded(int rows, int cols, int blasThreads) => Policy.IsThreaded(rows, cols, blasThreads);

    /// <summary>The least cost of a dominant block (see <see cref="RefreshPolicy.DominantCost"/>).</summary>
    public double DominantCost(int blasThreads) => Policy.DominantCost(blasThreads);

    /// <summary>Refreshes blocks 0 … <paramref name="count"/> − 1 into <paramref name="results"/>.</summary>
    /// <param name="count">Blocks to refresh.</param>
    /// <param name="shapeOf">The shape of block i.</param>
    /// <param name="refresh">Refreshes block i; called at most once per block, concurrently for different small blocks.</param>
    /// <param name="results">Receives block i's result at index i.</param>
    /// <exception cref="InvalidOperationException">Run is already running (another thread, or a callback re-entering it).</exception>
    /// <exception cref="ObjectDisposedException">The scheduler was disposed.</exception>
    public void Run(int count, Func<int, (int Rows, int Cols)> shapeOf, Func<int, RootRefreshResult> refresh, RootRefreshResult[] results) =>
        Run(count, shapeOf, null, refresh, results);

    /// <summary>Refreshes blocks 0 … <paramref name="count"/> − 1 into <paramref name="results"/>, taking whether block i
    /// runs threaded with t BLAS threads from <paramref name="threadedOf"/> (a cached answer of this scheduler's
    /// <see cref="Policy"/>, e.g. <see cref="KroneckerBlockTable.IsThreaded"/>) instead of asking the policy per block.</summary>
    /// <exception cref="InvalidOperationException">Run is already running (another thread, or a callback re-entering it).</exception>
    /// <exception cref="ObjectDisposedException">The scheduler was disposed.</exception>
    public void Run(int count, Func<int, (int Rows, int Cols)> shapeOf, Func<int, int, bool>? threadedOf, Func<int, RootRefreshResult> refresh,
        RootRefreshResult[] results)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed), this);
        // The queue, costs and helper hand-off are per instance: a second Run at the same time would corrupt them.
        if (Interlocked.Exchange(ref running, 1) != 0)
        {
            throw new InvalidOperationException("RefreshScheduler.Run is not re-entrant: a refresh is already running on this scheduler.");
        }

        try
        {
            RunExclusive(count, shapeOf, threadedOf, refresh, results);
        }
        finally
        {
            Volatile.Write(ref running, 0);
        }
    }

    private void RunExclusive(int count, Func<int, (int Rows, int Cols)> shapeOf, Func<int, int, bool>? threadedOf,
        Func<int, RootRefreshResult> refresh, RootRefreshResult[] results)
    {
        if (costs.Length < count)
        {
            costs = new double[count];
            large = new int[count];
            small = new int[count];
        }

        var threads = blas.MaxThreads;
        var largeCount = 0;
        var smallCount = 0;
        for (var i = 0; i < count; i++)
        {
            var (rows, cols) = shapeOf(i);
            costs[i] = BlockOwnership.InverseRootCost(rows, cols);
            if (threadedOf?.Invoke(i, threads) ?? IsThreaded(rows, cols, threads))
            {
                large[largeCount++] = i;
            }
            else
            {
                small[smallCount++] = i;
            }
        }

        SortByCost(large.AsSpan(0, largeCount));
        SortByCost(small.AsSpan(0, smallCount));
        for (var k = 0; k < largeCount; k++)
        {
            var i = large[k];
            BlockStarting?.Invoke(i, true);
            results[i] = refresh(i);
            ThreadedBlocks++;
        }

        if (smallCount > 0)
        {
            RunSmall(smallCount, threads, refresh, results);
        }
    }

    private void RunSmall(int smallCount, int threads, Func<int, RootRefreshResult> refresh, RootRefreshResult[] results)
    {
        var workers = Math.Min(Parallelism, smallCount);
        var globalLimit = !blas.HasThreadLocalLimit && threads > 1;
        if (globalLimit)
        {
            blas.EnterProcessSingleThreaded();
        }

        next = 0;
        try
        {
            if (workers == 1)
            {
                Work(smallCount, refresh, results);
            }
            else
            {
                RunWithHelpers(smallCount, refresh, results);
            }
        }
        finally
        {
            if (globalLimit)
            {
                blas.ExitProcessSingleThreaded();
            }
        }
    }

    /// <summary>Releases the helper threads into the shared queue, works it on the calling thread too, and returns when
    /// every helper has finished; a helper's exception is rethrown here. At most <see cref="Parallelism"/> blocks run at
    /// once (helpers + caller); a helper that finds the queue empty returns at once.</summary>
    private void RunWithHelpers(int smallCount, Func<int, RootRefreshResult> refresh, RootRefreshResult[] results)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            // A helper started now waits for a generation after this one, i.e. the one published below.
            var published = generation;
            while (aliveHelpers < Parallelism - 1)
            {
                StartHelper(published);
                aliveHelpers++;
            }

            currentCount = smallCount;
            currentRefresh = refresh;
            currentResults = results;
            helperFailure = null;
            helpersRunning = aliveHelpers;
            generation++;
            Monitor.PulseAll(gate);
        }

        Exception? failure = null;
        try
        {
            Work(smallCount, refresh, results);
        }
        catch (Exception e)
        {
            failure = e;
        }

        lock (gate)
        {
            while (helpersRunning > 0)
            {
                Monitor.Wait(gate);
            }

            // Nothing of this refresh stays reachable from the helpers between refreshes.
            currentRefresh = null;
            currentResults = null;
            failure ??= helperFailure;
            helperFailure = null;
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Starts one helper. A method of its own because a lambda capturing <paramref name="published"/> in the
    /// caller would allocate its closure on every refresh, not only when a thread starts.</summary>
    private void StartHelper(int published) =>
        new Thread(() => HelperLoop(published)) { IsBackground = true, Name = "ShampooMkl refresh helper" }.Start();

    /// <summary>A helper: works every generation published after <paramref name="seen"/>; ends when disposed or idle.</summary>
    /// <remarks>A published generation is always worked and counted down before the helper looks at
    /// <see cref="disposed"/>, so a Dispose racing a refresh cannot leave the caller waiting for a helper that left.</remarks>
    private void HelperLoop(int seen)
    {
        while (true)
        {
            lock (gate)
            {
                while (generation == seen)
                {
                    if (disposed || (!Monitor.Wait(gate, HelperIdleTimeout) && generation == seen))
                    {
                        aliveHelpers--;
                        return;
                    }
                }

                seen = generation;
            }

            HelpOnce();
        }
    }

    /// <summary>One generation's share of the queue. A separate method, so no local of the helper's long-running loop
    /// holds the refresh delegate (and through it the optimizer) between refreshes.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void HelpOnce()
    {
        try
        {
            // Published under the gate before the pulse that woke this helper, which took the gate since.
            Work(currentCount, currentRefresh!, currentResults!);
        }
        catch (Exception e)
        {
            lock (gate)
            {
                helperFailure ??= e;
            }
        }
        finally
        {
            lock (gate)
            {
                if (--helpersRunning == 0)
                {
                    Monitor.PulseAll(gate);
                }
            }
        }
    }

    /// <summary>Ends the helper threads once no refresh is pending (they are background threads that also end after
    /// being idle, so a forgotten Dispose neither keeps a process alive nor the scheduler reachable for long).</summary>
    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            Monitor.PulseAll(gate);
        }
    }

    /// <summary>One worker: takes blocks from the shared queue until it is empty, with BLAS limited to one thread.</summary>
    private void Work(int smallCount, Func<int, RootRefreshResult> refresh, RootRefreshResult[] results)
    {
        var previous = blas.HasThreadLocalLimit ? blas.SetCallingThreadThreads(1) : -1;
        try
        {
            int k;
            while ((k = Interlocked.Increment(ref next) - 1) < smallCount)
            {
                var i = small[k];
                RecordPeak(Interlocked.Increment(ref inFlight));
                try
                {
                    BlockStarting?.Invoke(i, false);
                    results[i] = refresh(i);
                }
                finally
                {
                    Interlocked.Decrement(ref inFlight);
                }

                Interlocked.Increment(ref parallelBlocks);
            }
        }
        finally
        {
            blas.RestoreThreads(previous);
        }
    }

    /// <summary>How many small blocks are being refreshed right now (for the test hook).</summary>
    public int InFlight => Volatile.Read(ref inFlight);

    private void RecordPeak(int now)
    {
        var seen = Volatile.Read(ref peakConcurrency);
        while (now > seen)
        {
            var observed = Interlocked.CompareExchange(ref peakConcurrency, now, seen);
            if (observed == seen)
            {
                return;
            }

            seen = observed;
        }
    }

    private void SortByCost(Span<int> items)
    {
        // Insertion sort: a step has tens of blocks, and this allocates nothing. Ties keep index order, so the
        // schedule is a pure function of the shapes.
        for (var a = 1; a < items.Length; a++)
        {
            var item = items[a];
            var b = a - 1;
            while (b >= 0 && costs[items[b]] < costs[item])
            {
                items[b + 1] = items[b];
                b--;
            }

            items[b + 1] = item;
        }
    }
}
