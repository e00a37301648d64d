using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>The dominance rule alone, without threads or BLAS: which blocks refresh with every BLAS thread.</summary>
public class RefreshPolicyTests
{
    private static double Cost(int rows, int cols) => BlockOwnership.InverseRootCost(rows, cols);

    [Fact]
    public void EqualBlocks_AreNeverDominant_OnTwoThreads_ButAreOnMore()
    {
        var policy = new RefreshPolicy(int.MaxValue, Enumerable.Repeat((1024, 1024), 8), dominantMinDim: 1);
        Assert.Equal(double.PositiveInfinity, policy.DominantCost(2));
        Assert.False(policy.IsThreaded(1024, 1024, blasThreads: 2));
        // Two equal blocks on three threads: c·3 > 2c, then c·3 > c; one answer for equal costs.
        var pair = new RefreshPolicy(int.MaxValue, [(4, 4), (4, 4)], dominantMinDim: 1);
        Assert.Equal(double.PositiveInfinity, pair.DominantCost(2));
        Assert.Equal(Cost(4, 4), pair.DominantCost(3));
        Assert.True(pair.IsThreaded(4, 4, blasThreads: 3));
    }

    [Fact]
    public void DominantChain_ThreadsEveryBlockThatOutlastsAnEvenShareOfWhatIsLeft()
    {
        var policy = new RefreshPolicy(int.MaxValue, [(10, 128), (256, 784), (128, 256)], dominantMinDim: 1);
        Assert.Equal(Cost(10, 128), policy.DominantCost(2));
        Assert.True(policy.IsThreaded(256, 784, 2));
        Assert.True(policy.IsThreaded(128, 256, 2));
        Assert.True(policy.IsThreaded(10, 128, 2));
        // The cached threshold answers per thread count, in any order of questions.
        Assert.Equal(double.PositiveInfinity, policy.DominantCost(1));
        Assert.Equal(Cost(10, 128), policy.DominantCost(2));
    }

    [Fact]
    public void OneLargeBlockAmongTinyOnes_IsTheOnlyThreadedOne()
    {
        var blocks = Enumerable.Repeat((3, 3), 50).Append((200, 200)).ToArray();
        var policy = new RefreshPolicy(int.MaxValue, blocks, dominantMinDim: 1);
        Assert.Equal(Cost(200, 200), policy.DominantCost(2));
        Assert.True(policy.IsThreaded(200, 200, 2));
        Assert.False(policy.IsThreaded(3, 3, 2));
    }

    [Fact]
    public void OneBlasThread_ThreadsNothing_EvenAboveThreadedMinDim()
    {
        var policy = new RefreshPolicy(threadedMinDim: 4, [(1000, 1000), (3, 3)], dominantMinDim: int.MaxValue);
        Assert.False(policy.IsThreaded(1000, 1000, blasThreads: 1));
        Assert.False(policy.IsThreaded(3, 4, blasThreads: 1));
        Assert.True(policy.IsThreaded(3, 4, blasThreads: 2));
        Assert.False(policy.IsThreaded(3, 3, blasThreads: 2));
    }

    [Fact]
    public void DominanceFloor_SkipsSmallBlocks_ButCountsTheirCost()
    {
        // Below the floor the 100×100 block is never threaded for dominance; it still counts in the remaining sum, so
        // the 300×300 block must outlast an even share including it.
        var floored = new RefreshPolicy(int.MaxValue, [(100, 100), (300, 300)], dominantMinDim: 200);
        Assert.Equal(Cost(300, 300), floored.DominantCost(2));
        Assert.False(floored.IsThreaded(100, 100, 2));
        var none = new RefreshPolicy(int.MaxValue, [(100, 100), (120, 120)], dominantMinDim: 200);
        Assert.Equal(double.PositiveInfinity, none.DominantCost(2));
        var off = new RefreshPolicy(int.MaxValue, [(300, 300)], dominantMinDim: int.MaxValue);
        Assert.False(off.IsThreaded(300, 300, 2));
    }

    [Fact]
    public void InvalidMinimums_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RefreshPolicy(0, [(2, 2)], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RefreshPolicy(1, [(2, 2)], 0));
        Assert.Throws<ArgumentNullException>(() => new RefreshPolicy(1, null!, 1));
    }
}
