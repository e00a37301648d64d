using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>The one-process communicator: no-op reductions, copying gathers, and the same argument checks as MPI.</summary>
public class SingleProcessCommunicatorTests
{
    [Fact]
    public void IsRankZeroOfOne()
    {
        using var comm = new SingleProcessCommunicator();

        Assert.Equal(0, comm.Rank);
        Assert.Equal(1, comm.Size);
    }

    [Fact]
    public void AllReduceSum_LeavesValuesUnchanged()
    {
        using var comm = new SingleProcessCommunicator();
        double[] doubles = [1.5, -2, double.MaxValue];
        float[] floats = [3, float.Epsilon];

        comm.AllReduceSum(doubles);
        comm.AllReduceSum(floats);
        comm.AllReduceSum(Span<double>.Empty);

        Assert.Equal([1.5, -2, double.MaxValue], doubles);
        Assert.Equal([3, float.Epsilon], floats);
    }

    [Fact]
    public void AllGatherV_CopiesToTheDisplacement_AndLeavesTheRestAlone()
    {
        using var comm = new SingleProcessCommunicator();
        int[] receive = [-1, -1, -1, -1, -1];

        comm.AllGatherV<int>([7, 8], receive, [2], [2]);

        Assert.Equal([-1, -1, 7, 8, -1], receive);
    }

    [Fact]
    public void AllGatherV_AcceptsAnEmptyContribution()
    {
        using var comm = new SingleProcessCommunicator();
        double[] receive = [4];

        comm.AllGatherV<double>([], receive, [0], [1]);

        Assert.Equal([4.0], receive);
    }

    [Fact]
    public void AllGatherV_ThrowsForCountsNotOnePerRank()
    {
        using var comm = new SingleProcessCommunicator();

        var e = Assert.Throws<ArgumentException>(() => comm.AllGatherV<int>([1], new int[4], [1, 0], [0]));
        Assert.Equal("counts", e.ParamName);
    }

    [Fact]
    public void AllGatherV_ThrowsForDisplacementsNotOnePerRank()
    {
        using var comm = new SingleProcessCommunicator();

        var e = Assert.Throws<ArgumentException>(() => comm.AllGatherV<int>([1], new int[4], [1], []));
        Assert.Equal("displacements", e.ParamName);
    }

    [Fact]
    public void AllGatherV_ThrowsForANegativeCountOrDisplacement()
    {
        using var comm = new SingleProcessCommunicator();

        Assert.Throws<ArgumentException>(() => comm.AllGatherV<int>([], new int[4], [-1], [0]));
        Assert.Throws<ArgumentException>(() => comm.AllGatherV<int>([1], new int[4], [1], [-1]));
    }

    [Fact]
    public void AllGatherV_ThrowsForSendLengthOtherThanThisRanksCount()
    {
        using var comm = new SingleProcessCommunicator();

        var e = Assert.Throws<ArgumentException>(() => comm.AllGatherV<int>([1, 2], new int[4], [1], [0]));
        Assert.Equal("send", e.ParamName);
    }

    [Fact]
    public void AllGatherV_ThrowsForTooShortReceive()
    {
        using var comm = new SingleProcessCommunicator();

        var e = Assert.Throws<ArgumentException>(() => comm.AllGatherV<int>([1, 2], new int[4], [2], [3]));
        Assert.Equal("displacements", e.ParamName);
    }

    [Fact]
    public void AllGatherV_ThrowsInsteadOfOverflowingAtTheEndOfTheIntRange()
    {
        using var comm = new SingleProcessCommunicator();

        Assert.Throws<ArgumentException>(() => comm.AllGatherV<int>([1], new int[4], [1], [int.MaxValue]));
    }

    [Fact]
    public void Broadcast_FromRankZero_LeavesValuesUnchanged()
    {
        using var comm = new SingleProcessCommunicator();
        byte[] bytes = [1, 2, 3];

        comm.Broadcast<byte>(bytes, 0);

        Assert.Equal([1, 2, 3], bytes);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void Broadcast_ThrowsForARootThatIsNotARank(int root)
    {
        using var comm = new SingleProcessCommunicator();

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => comm.Broadcast<double>(new double[2], root));
        Assert.Equal("root", e.ParamName);
    }

    [Fact]
    public void Calls_ThrowAfterDispose_AndDisposeIsIdempotent()
    {
        var comm = new SingleProcessCommunicator();
        comm.Dispose();
        comm.Dispose();

        Assert.Throws<ObjectDisposedException>(() => comm.AllReduceSum(new double[1]));
        Assert.Throws<ObjectDisposedException>(() => comm.AllReduceSum(new float[1]));
        Assert.Throws<ObjectDisposedException>(() => comm.AllGatherV<int>([1], new int[1], [1], [0]));
        Assert.Throws<ObjectDisposedException>(() => comm.Broadcast<int>(new int[1], 0));
        Assert.Throws<ObjectDisposedException>(comm.Barrier);
    }

    [Fact]
    public void Collectives_DoNotAllocate()
    {
        using var comm = new SingleProcessCommunicator();
        var doubles = new double[8];
        var floats = new float[8];
        var send = new int[3];
        var receive = new int[3];
        var counts = new[] { 3 };
        var displacements = new[] { 0 };

        for (var pass = 0; pass < 2; pass++)
        {
            // Pass 0 warms up the JIT; pass 1 is measured.
            var before = GC.GetAllocatedBytesForCurrentThread();
            comm.AllReduceSum(doubles);
            comm.AllReduceSum(floats);
            comm.AllGatherV<int>(send, receive, counts, displacements);
            comm.Broadcast<int>(receive, 0);
            comm.Barrier();
            if (pass == 1)
            {
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
    }
}
