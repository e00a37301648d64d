namespace ShampooMkl.Optim;

/// <summary>The dominance rule of the root refresh: which Kronecker blocks have their roots computed alone with every
/// BLAS thread, and which one BLAS thread each beside others. Pure: no threads, no BLAS.</summary>
/// <remarks>
/// <para>Rule (with P &gt; 1 BLAS threads; with one thread every block is single-threaded, since threads would change
/// nothing): a block is threaded when its longer side is at least <see cref="ThreadedMinDim"/>, or at least
/// <see cref="DominantMinDim"/> and it is dominant. Dominant blocks are found once over every block of the model
/// (<c>modelBlocks</c>): by decreasing cost c = m³ + n³, skipping blocks whose sides are all below
/// <see cref="DominantMinDim"/> (an optional floor where a second thread would not pay; they stay in the sum), a
/// block is dominant while c·P exceeds the summed cost of itself and every block not yet found dominant; the first
/// that does not stops the search (no smaller one could pass). Equal costs get one answer (a block of cost c after a
/// dominant one of cost c passes too), so the rule is a cost threshold (<see cref="DominantCost"/>) plus the side
/// floor, and eight equal blocks on two threads are never dominant (c·2 ≤ 8c): each runs single-threaded beside
/// another, which beats two threads' less-than-linear speed-up. Once the largest block is threaded, the next ones usually
/// are too, rather than a short parallel phase after it (see ShampooOptions.DominantRefreshMinDim).</para>
/// <para>Determinism: MKL and OpenBLAS may give different bits with 1 and 2 threads while repeating the same bits for
/// the same count (ThreadCountDeterminismTests; the orders from which they differ are in docs/performance.md). So a
/// block's thread count depends only on its shape, the shapes of all blocks of the model and the configured BLAS
/// threads — things every rank and every <see cref="RefreshScheduler.Parallelism"/> agree on — never on <see cref="RefreshScheduler.Parallelism"/>, on
/// which blocks are refreshed this step or owned by this rank (<c>RefreshScheduler.Run</c> may get any subset), or on timing: a
/// single-threaded block runs on one thread even when it runs alone, and the results are bit-identical for every
/// parallelism and rank count. Blocks share nothing but the (locked) buffer pool, so their order does not matter either.</para>
/// </remarks>
internal sealed class RefreshPolicy
{
    private readonly (double Cost, int Side)[] modelBlocks;
    private int thresholdThreads;
    private double threshold = double.PositiveInfinity;

    /// <summary>The rule for a model with the given blocks.</summary>
    /// <param name="threadedMinDim">Blocks with a side at least this long are always threaded (≥ 1).</param>
    /// <param name="modelBlocks">The shape of every Kronecker block of the whole model (all parameters, every rank's
    /// blocks), whichever of them a step refreshes; it decides which blocks are dominant.</param>
    /// <param name="dominantMinDim">Dominant blocks with a side at least this long are threaded too (≥ 1); int.MaxValue: none.</param>
    /// <exception cref="ArgumentOutOfRangeException">A minimum below 1.</exception>
    public RefreshPolicy(int threadedMinDim, IEnumerable<(int Rows, int Cols)> modelBlocks, int dominantMinDim)
    {
        ArgumentNullException.ThrowIfNull(modelBlocks);
        ArgumentOutOfRangeException.ThrowIfLessThan(threadedMinDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dominantMinDim, 1);
        ThreadedMinDim = threadedMinDim;
        DominantMinDim = dominantMinDim;
        this.modelBlocks = modelBlocks.Select(b => (BlockOwnership.InverseRootCost(b.Rows, b.Cols), Math.Max(b.Rows, b.Cols))).ToArray();
        // Cost descending (then side, so the array is one order everywhere), and the sum below in one order on every rank.
        Array.Sort(this.modelBlocks, (a, b) => a.Cost != b.Cost ? b.Cost.CompareTo(a.Cost) : b.Side.CompareTo(a.Side));
    }

    /// <summary>Blocks with a side at least this long run alone with every BLAS thread.</summary>
    public int ThreadedMinDim { get; }

    /// <summary>Blocks with a side at least this long run alone with every BLAS thread when they dominate the refresh.</summary>
    public int DominantMinDim { get; }

    /// <summary>Whether a block of this shape runs alone with every BLAS thread when BLAS has <paramref name="blasThreads"/>.</summary>
    public bool IsThreaded(int rows, int cols, int blasThreads)
    {
        var side = Math.Max(rows, cols);
        return blasThreads > 1 && (side >= ThreadedMinDim ||
            (side >= DominantMinDim && BlockOwnership.InverseRootCost(rows, cols) >= DominantCost(blasThreads)));
    }

    /// <summary>The least cost m³ + n³ of a dominant block of the model with <paramref name="blasThreads"/> BLAS threads;
    /// +∞ when no block is dominant (or there is one thread).</summary>
    public double DominantCost(int blasThreads)
    {
        if (blasThreads != thresholdThreads)
        {
            threshold = ComputeDominantCost(blasThreads);
            thresholdThreads = blasThreads;
        }

        return threshold;
    }

    private double ComputeDominantCost(int blasThreads)
    {
        if (blasThreads < 2)
        {
            return double.PositiveInfinity;
        }

        var remaining = 0.0;
        for (var k = modelBlocks.Length - 1; k >= 0; k--)
        {
            remaining += modelBlocks[k].Cost;
        }

        var least = double.PositiveInfinity;
        foreach (var (cost, side) in modelBlocks)
        {
            if (side < DominantMinDim)
            {
                continue;
            }

            // cost·P > remaining: alone, this block takes longer than an even share of all that is left.
            if (!(cost > 0) || cost * blasThreads <= remaining)
            {
                break;
            }

            least = cost;
            remaining -= cost;
        }

        return least;
    }
}
