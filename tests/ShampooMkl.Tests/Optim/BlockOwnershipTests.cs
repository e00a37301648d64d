using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>LPT block ownership: hand-worked cases, balance bounds, and the determinism every rank relies on.</summary>
public class BlockOwnershipTests
{
    [Fact]
    public void Assign_GivesLargestFirstToTheLeastLoadedRank()
    {
        // Worked by hand: 7→r0, 5→r1, 4→r1 (5<7), 3→r0 (7<9), 3→r1 (9<10), 2→r0 (10<12).
        var ownership = BlockOwnership.Assign([7, 5, 4, 3, 3, 2], 2);

        Assert.Equal([0, 1, 1, 0, 1, 0], ownership.Owners.ToArray());
        Assert.Equal(12, ownership.LoadOf(0));
        Assert.Equal(12, ownership.LoadOf(1));
        Assert.Equal(24, ownership.TotalCost);
        Assert.Equal(1, ownership.Imbalance);
    }

    [Fact]
    public void Assign_BreaksTiesByItemIndexThenByRank()
    {
        // 2→r0; the 1s in index order to r1, r2 (equal loads: lower rank), r1, r2.
        // Pinned because every rank must agree: changing the rule breaks jobs mixing old and new builds.
        var ownership = BlockOwnership.Assign([1, 1, 1, 1, 2], 3);

        Assert.Equal([1, 2, 1, 2, 0], ownership.Owners.ToArray());
    }

    [Fact]
    public void ItemsOf_ListsEachItemOnceInIncreasingOrder()
    {
        var costs = RandomCosts(seed: 11, count: 53);

        var ownership = BlockOwnership.Assign(costs, 4);

        var seen = new List<int>();
        for (var r = 0; r < ownership.RankCount; r++)
        {
            var items = ownership.ItemsOf(r).ToArray();
            Assert.Equal(items.Order(), items);
            Assert.All(items, item => Assert.Equal(r, ownership.OwnerOf(item)));
            Assert.Equal(items.Sum(i => costs[i]), ownership.LoadOf(r), 1e-9 * ownership.TotalCost);
            seen.AddRange(items);
        }

        Assert.Equal(Enumerable.Range(0, costs.Length), seen.Order());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(64)]
    public void Assign_KeepsTheLptInvariant(int ranks)
    {
        // Each item went to a rank whose load was at most the mean at that time, and a rank's last (smallest)
        // item came last, so load − smallest item ≤ total / ranks on every rank.
        var costs = RandomCosts(seed: 5 + ranks, count: 100);

        var ownership = BlockOwnership.Assign(costs, ranks);

        for (var r = 0; r < ranks; r++)
        {
            var items = ownership.ItemsOf(r);
            if (items.IsEmpty)
            {
                continue;
            }

            var smallest = double.MaxValue;
            foreach (var item in items)
            {
                smallest = Math.Min(smallest, costs[item]);
            }

            Assert.True(ownership.LoadOf(r) - smallest <= (ownership.TotalCost / ranks) * (1 + 1e-12), $"rank {r}");
        }
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(3, 4)]
    public void Assign_IsWithinGrahamsBoundOfTheOptimum(int ranks, int seed)
    {
        var costs = RandomCosts(seed, count: 9);

        var ownership = BlockOwnership.Assign(costs, ranks);

        var optimum = BruteForceOptimum(costs, ranks);
        Assert.True(ownership.MaxLoad <= ((4.0 / 3) - (1.0 / (3 * ranks))) * optimum * (1 + 1e-12),
            $"LPT {ownership.MaxLoad} vs optimum {optimum}");
    }

    [Fact]
    public void Assign_BalancesRealisticBlockShapesWell()
    {
        // 1024-blocked layers of a small transformer-like model: many similar blocks and a few small ones.
        var shapes = new List<(int Rows, int Cols)>();
        for (var layer = 0; layer < 12; layer++)
        {
            shapes.AddRange(Enumerable.Repeat((1024, 1024), 8));
            shapes.Add((1024, 768));
            shapes.Add((768, 1));
        }

        var costs = shapes.Select(s => BlockOwnership.InverseRootCost(s.Rows, s.Cols)).ToArray();

        var ownership = BlockOwnership.Assign(costs, 8);

        Assert.InRange(ownership.Imbalance, 1, 1.05);
    }

    [Fact]
    public void Assign_IsDeterministic_AndItsLoadsIgnoreTheInputOrder()
    {
        var costs = RandomCosts(seed: 3, count: 40);
        // Repeated costs make the tie-breaking matter.
        costs[7] = costs[8] = costs[9] = costs[20];

        var first = BlockOwnership.Assign(costs, 5);
        var second = BlockOwnership.Assign(costs, 5);
        var shuffled = costs.ToArray();
        new Random(1).Shuffle(shuffled);
        var permuted = BlockOwnership.Assign(shuffled, 5);

        Assert.Equal(first.Owners.ToArray(), second.Owners.ToArray());
        for (var r = 0; r < 5; r++)
        {
            // The same cost sequence meets the same loads, so each rank's load is bit-for-bit the same.
            Assert.Equal(first.LoadOf(r), permuted.LoadOf(r));
        }
    }

    [Fact]
    public void Assign_WithMoreRanksThanItems_LeavesSomeRanksIdle()
    {
        var ownership = BlockOwnership.Assign([3, 1], 4);

        Assert.Equal([0, 1], ownership.Owners.ToArray());
        Assert.True(ownership.ItemsOf(2).IsEmpty);
        Assert.Equal(3, ownership.MaxLoad);
    }

    [Fact]
    public void Assign_WithNoItemsOrZeroCosts_ReportsPerfectBalance()
    {
        Assert.Equal(1, BlockOwnership.Assign([], 3).Imbalance);
        Assert.Equal(1, BlockOwnership.Assign([0, 0], 3).Imbalance);
    }

    [Fact]
    public void Assign_ThrowsForFewerThanOneRank()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockOwnership.Assign([1], 0));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Assign_ThrowsForACostThatIsNotFiniteAndNonNegative(double bad)
    {
        var e = Assert.Throws<ArgumentException>(() => BlockOwnership.Assign([1, bad], 2));
        Assert.Equal("costs", e.ParamName);
    }

    [Fact]
    public void ItemsOf_ThrowsForARankOutOfRange()
    {
        var ownership = BlockOwnership.Assign([1], 2);

        Assert.Throws<ArgumentOutOfRangeException>(() => ownership.ItemsOf(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ownership.ItemsOf(-1));
    }

    [Fact]
    public void InverseRootCost_IsTheSumOfCubes_WithoutIntOverflow()
    {
        Assert.Equal((1024.0 * 1024 * 1024) + (512.0 * 512 * 512), BlockOwnership.InverseRootCost(1024, 512));
        Assert.Equal(2 * Math.Pow(65536, 3), BlockOwnership.InverseRootCost(65536, 65536));
    }

    private static double[] RandomCosts(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => BlockOwnership.InverseRootCost(random.Next(1, 1025), random.Next(1, 1025)))
            .ToArray();
    }

    private static double BruteForceOptimum(double[] costs, int ranks)
    {
        var best = double.MaxValue;
        var loads = new double[ranks];
        var assignments = (int)Math.Pow(ranks, costs.Length);
        for (var code = 0; code < assignments; code++)
        {
            Array.Clear(loads);
            var rest = code;
            foreach (var cost in costs)
            {
                loads[rest % ranks] += cost;
                rest /= ranks;
            }

            best = Math.Min(best, loads.Max());
        }

        return best;
    }
}
