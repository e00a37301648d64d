using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Runs the root refreshes of one step: large blocks one at a time with every BLAS thread, small blocks
/// several at once with one BLAS thread each.</summary>
/// <remarks>
/// <para>Why: threaded BLAS inside blocks that are themselves refreshed in parallel oversubscribes the cores (two
/// blocks × two MKL threads on two cores), and a small eigendecomposition gains nothing from a second thread while a
/// large one does. A block is large when its longer side is at least <see cref="ThreadedMinDim"/> and BLAS has more
/// than one thread; with one BLAS thread every block is small, since the threads would change nothing.</para>
/// <para>Determinism: MKL (2020, CNR "auto") and OpenBLAS give different bits with 1 and 2 threads while repeating the
/// same bits for the same count (measured: MKL inverse roots and gemm from order 128, syrk from 256; OpenBLAS 0.3.21
/// inverse roots and gemm from order 64 when it is the only BLAS in the process; ThreadCountDeterminismTests). So a block's
/// thread count depends only on its shape and the configured BLAS threads, never on <see cref="Parallelism"/> or on
/// timing: a small block runs on one thread even when it runs alone, and the results are bit-identical for every
/// parallelism. Blocks share nothing but the (locked) buffer pool, so their order does not matter either.</para>
/// <para>Thread limits: MKL limits each worker thread alone (<c>MKL_Set_Num_Threads_Local</c>), restored when the
/// worker ends. OpenBLAS has only a process-wide count, so it is set to 1 for the whole small phase and restored
/// after: any other thread of the process calling OpenBLAS meanwhile also runs on one thread.</para>
/// <para>Order: large blocks first, then small ones from a shared queue, each phase largest cost (m³ + n³) first, so
/// the last block a worker picks up is a short one (longest-processing-time-first).</para>
/// </remarks>
internal sealed class RefreshScheduler
{
    private readonly BlasBackend blas;
    private int[] large = [];
    private int[] small = [];
    private double[] costs = [];
    private int next;
    private int inFlight;
    private int peakConcurrency;
    private long parallelBlocks;

    public RefreshScheduler(BlasBackend blas, int parallelism, int threadedMinDim)
    {
        ArgumentNullException.ThrowIfNull(blas);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threadedMinDim, 1);
        this.blas = blas;
        Parallelism = parallelism;
        ThreadedMinDim = threadedMinDim;
    }

    /// <summary>Most small blocks refreshed at once.</summary>
    public int Parallelism { get; }

    /// <summary>Blocks with a side at least this long run alone with every BLAS thread.</summary>
    public int ThreadedMinDim { get; }

    /// <summary>Blocks refreshed alone with every BLAS thread, since construction.</summary>
    public long ThreadedBlocks { get; private set; }

    /// <summary>Blocks refreshed with one BLAS thread (possibly alongside others), since construction.</summary>
    public long ParallelBlocks => Interlocked.Read(ref parallelBlocks);

    /// <summary>Most single-threaded blocks seen in flight at the same moment, since construction: a count, not a timing,
    /// so tests can prove that blocks overlapped.</summary>
    public int PeakConcurrency => Volatile.Read(ref peakConcurrency);

    /// <summary>Test hook called on the thread that is about to refresh block <c>index</c>; <c>threaded</c> tells the phase.</summary>
    public Action<int, bool>? BlockStarting { get; set; }

    /// <summary>Whether a block of this shape runs alone with every BLAS thread when BLAS has <paramref name="blasThreads"/>.</summary>
    public bool IsThreaded(int rows, int cols, int blasThreads) => blasThreads > 1 && Math.Max(rows, cols) >= ThreadedMinDim;

    /// <summary>Refreshes blocks 0 … <paramref name="count"/> − 1 into <paramref name="results"/>.</summary>
    /// <param name="count">Blocks to refresh.</param>
    /// <param name="shapeOf">The shape of block i.</param>
    /// <param name="refresh">Refreshes block i; called at most once per block, concurrently for different small blocks.</param>
    /// <param name="results">Receives block i's result at index i.</param>
    public void Run(int count, Func<int, (int Rows, int Cols)> shapeOf, Func<int, RootRefreshResult> refresh, RootRefreshResult[] results)
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
            if (IsThreaded(rows, cols, threads))
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
            blas.SetThreads(1);
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
                Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ => Work(smallCount, refresh, results));
            }
        }
        finally
        {
            if (globalLimit)
            {
                blas.SetThreads(threads);
            }
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
