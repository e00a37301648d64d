namespace ShampooMkl.Optim;

/// <summary>Which rank computes each work item (e.g. a preconditioner block's inverse roots), balanced by cost.</summary>
/// <remarks>
/// Longest-processing-time-first scheduling: items by decreasing cost, each to the currently least-loaded rank.
/// Its largest load is at most (4/3 − 1/(3·ranks)) times the optimum (Graham 1969). Every rank computes the
/// assignment on its own, with no communication, so the result must be a pure function of the inputs: ties
/// between equal costs go to the lower item index and ties between equal loads to the lower rank, and loads
/// are summed in the same order everywhere (IEEE addition is deterministic on every .NET platform).
/// </remarks>
public sealed class BlockOwnership
{
    private readonly int[] owners;
    private readonly double[] loads;
    private readonly int[] itemsByRank;
    private readonly int[] rankStarts;

    private BlockOwnership(int[] owners, double[] loads, int[] itemsByRank, int[] rankStarts, double totalCost)
    {
        this.owners = owners;
        this.loads = loads;
        this.itemsByRank = itemsByRank;
        this.rankStarts = rankStarts;
        TotalCost = totalCost;
        MaxLoad = loads.Max();
    }

    /// <summary>The number of ranks the items were spread over.</summary>
    public int RankCount => loads.Length;

    /// <summary>The number of items.</summary>
    public int ItemCount => owners.Length;

    /// <summary>The owning rank of every item, indexed by item.</summary>
    public ReadOnlySpan<int> Owners => owners;

    /// <summary>The sum of all costs.</summary>
    public double TotalCost { get; }

    /// <summary>The largest per-rank load: what the slowest rank computes.</summary>
    public double MaxLoad { get; }

    /// <summary>MaxLoad over the mean load; 1 is perfect balance (also reported when all costs are zero).</summary>
    public double Imbalance => TotalCost > 0 ? MaxLoad / (TotalCost / RankCount) : 1;

    /// <summary>The rank that owns <paramref name="item"/>.</summary>
    public int OwnerOf(int item) => owners[item];

    /// <summary>The items owned by <paramref name="rank"/>, in increasing index order.</summary>
    public ReadOnlySpan<int> ItemsOf(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, RankCount);
        return itemsByRank.AsSpan(rankStarts[rank], rankStarts[rank + 1] - rankStarts[rank]);
    }

    /// <summary>The summed cost of the items owned by <paramref name="rank"/>.</summary>
    public double LoadOf(int rank) => loads[rank];

    /// <summary>The cost model for an m×n block's two inverse roots: one eigendecomposition each, m³ + n³.</summary>
    public static double InverseRootCost(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        return ((double)rows * rows * rows) + ((double)cols * cols * cols);
    }

    /// <summary>Assigns items with the given costs to <paramref name="rankCount"/> ranks.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rankCount"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A cost is negative, NaN or infinite.</exception>
    public static BlockOwnership Assign(ReadOnlySpan<double> costs, int rankCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rankCount, 1);
        for (var i = 0; i < costs.Length; i++)
        {
            if (!double.IsFinite(costs[i]) || costs[i] < 0)
            {
                throw new ArgumentException($"Cost {i} is {costs[i]}; costs must be finite and non-negative.", nameof(costs));
            }
        }

        var cost = costs.ToArray();
        var order = new int[cost.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // A total order (cost descending, then index), so an unstable sort still gives one answer everywhere.
        Array.Sort(order, (a, b) => cost[a] != cost[b] ? cost[b].CompareTo(cost[a]) : a.CompareTo(b));

        var loads = new double[rankCount];
        var owners = new int[cost.Length];
        var counts = new int[rankCount];
        var heap = new PriorityQueue<int, (double Load, int Rank)>(rankCount);
        for (var r = 0; r < rankCount; r++)
        {
            heap.Enqueue(r, (0.0, r));
        }

        foreach (var item in order)
        {
            var rank = heap.Dequeue();
            owners[item] = rank;
            loads[rank] += cost[item];
            counts[rank]++;
            heap.Enqueue(rank, (loads[rank], rank));
        }

        var starts = new int[rankCount + 1];
        for (var r = 0; r < rankCount; r++)
        {
            starts[r + 1] = starts[r] + counts[r];
        }

        var next = starts[..rankCount];
        var itemsByRank = new int[cost.Length];
        for (var item = 0; item < owners.Length; item++)
        {
            itemsByRank[next[owners[item]]++] = item;
        }

        var total = 0.0;
        foreach (var c in cost)
        {
            total += c;
        }

        return new BlockOwnership(owners, loads, itemsByRank, starts, total);
    }
}
