using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Tests.Optim;

/// <summary>The optimizer's one table of Kronecker blocks: numbering, areas, costs, owners and threaded flags.</summary>
public class KroneckerBlockTableTests
{
    [Fact]
    public void Table_NumbersBlocksByParameterThenLayout_WithAreasCostsAndOwners()
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var options = ShampooOptions.Shampoo with { MaxPreconditionerDim = 4 };
        var states = parameters.Select(p => ShampooParameterState.Create(p, options, null)).ToArray();
        try
        {
            var policy = new RefreshPolicy(int.MaxValue, KroneckerBlockTable.ShapesOf(states), 1);
            var table = new KroneckerBlockTable(states, rankCount: 2, policy);
            // 6×5 at 4 → 4,2 × 4,1: four blocks; 3×(2·2) → one 3×4 block; the vectors have none.
            Assert.Equal(5, table.Count);
            Assert.Equal([0, 4, 5, 5], Enumerable.Range(0, 4).Select(table.FirstBlock));
            Assert.Equal([4, 1, 0, 0], Enumerable.Range(0, 4).Select(table.BlockCount));
            var layout = ((BlockedShampooPreconditioner<double>)states[0].Preconditioner).Layout;
            for (var b = 0; b < 4; b++)
            {
                Assert.Equal((0, b), (table[b].Parameter, table[b].Block));
                Assert.Equal(layout[b], table[b].Area);
                Assert.Equal(BlockOwnership.InverseRootCost(layout[b].Rows, layout[b].Cols), table[b].Cost);
            }

            Assert.Equal((1, 0, 3, 4), (table[4].Parameter, table[4].Block, table[4].Area.Rows, table[4].Area.Cols));
            var costs = Enumerable.Range(0, table.Count).Select(g => table[g].Cost).ToArray();
            var expected = BlockOwnership.Assign(costs, 2);
            Assert.Equal(expected.Owners.ToArray(), Enumerable.Range(0, table.Count).Select(g => table[g].Owner));
            Assert.Null(new KroneckerBlockTable(states, 1, policy).Ownership);
            Assert.All(Enumerable.Range(0, table.Count), g => Assert.Equal(0, new KroneckerBlockTable(states, 1, policy)[g].Owner));
        }
        finally
        {
            foreach (var s in states)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public void ThreadedFlags_FollowThePolicy_PerThreadCount()
    {
        var parameters = new[] { new Parameter("big", new float[200 * 200], 200, 200), new Parameter("small", new float[9], 3, 3) };
        var options = ShampooOptions.Shampoo with { MaxPreconditionerDim = 1024 };
        var states = parameters.Select(p => ShampooParameterState.Create(p, options, null)).ToArray();
        try
        {
            var policy = new RefreshPolicy(int.MaxValue, KroneckerBlockTable.ShapesOf(states), dominantMinDim: 100);
            var table = new KroneckerBlockTable(states, 1, policy);
            Assert.True(table.IsThreaded(0, 2));
            Assert.False(table.IsThreaded(1, 2));
            Assert.False(table.IsThreaded(0, 1));
            Assert.True(table.IsThreaded(0, 4));
            for (var g = 0; g < table.Count; g++)
            {
                Assert.Equal(policy.IsThreaded(table[g].Area.Rows, table[g].Area.Cols, 2), table.IsThreaded(g, 2));
            }
        }
        finally
        {
            foreach (var s in states)
            {
                s.Dispose();
            }
        }
    }
}
