using System.CommandLine;
using ShampooMkl.Cli.Commands;
using ShampooMkl.Distributed;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Distributed;

/// <summary>The data-parallel helpers in one process: batch shares, the emulated two-rank sum, checksums, collective checkpoints.</summary>
public sealed class DataParallelTests
{
    [Theory]
    [InlineData(32, 2, new[] { 0, 16, 16, 16 })]
    [InlineData(10, 3, new[] { 0, 4, 4, 3, 7, 3 })]
    [InlineData(2, 3, new[] { 0, 1, 1, 1, 2, 0 })]
    public void ShareOf_CutsTheBatchIntoContiguousShares_LargerFirst(int batch, int ranks, int[] startsAndCounts)
    {
        for (var r = 0; r < ranks; r++)
        {
            Assert.Equal((startsAndCounts[2 * r], startsAndCounts[(2 * r) + 1]), DataParallelGradients.ShareOf(batch, r, ranks));
        }
    }

    [Fact]
    public void AllReduceMean_OnOneProcess_LeavesTheWholeBatchGradientUnchanged()
    {
        using var single = new SingleProcessCommunicator();
        var p = new Parameter("w", new float[6], 2, 3) { Gradient = [1.5f, -0f, 3e-8f, -2f, 7f, 0.1f] };
        var before = p.Gradient.ToArray();

        var loss = new DataParallelGradients(single, [p]).AllReduceMean(5, 5, 0.25);

        Assert.Equal(0.25, loss);
        Assert.Equal(before.Select(BitConverter.SingleToUInt32Bits), p.Gradient.Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void AddShard_IsTheTwoRankSum_KeepingNegativeZero()
    {
        float[] a = [-0f, 1f, 3f];
        float[] b = [-0f, 2f, 5f];
        var sum = new float[3];

        DataParallelGradients.AddShard(a, 0, 1, 4, sum);
        DataParallelGradients.AddShard(b, 1, 3, 4, sum);

        Assert.Equal(BitConverter.SingleToUInt32Bits(-0f), BitConverter.SingleToUInt32Bits(sum[0]));
        Assert.Equal((float)(1 * 0.25) + (float)(2 * 0.75), sum[1]);
        Assert.Equal((float)(3 * 0.25) + (float)(5 * 0.75), sum[2]);
    }

    [Fact]
    public void ParameterChecksum_ChangesWithAnyBit()
    {
        var p = new Parameter("w", [1f, 2f, 3f], 3);
        var before = DataParallelGradients.ParameterChecksum([p]);
        p.Value[1] = BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(2f) + 1);

        Assert.NotEqual(before, DataParallelGradients.ParameterChecksum([p]));
        using var single = new SingleProcessCommunicator();
        Assert.True(DataParallelGradients.ReplicasAgree(single, [p]));
    }

    [Fact]
    public void SaveWith_RethrowsTheWritersOwnException_AndLoadWith_AgreesOnFailure()
    {
        using var single = new SingleProcessCommunicator();
        var p = new Parameter("w", [1f, 2f, 3f, 4f], 2, 2);
        using var optimizer = new Shampoo([p]);

        var written = false;
        DistributedCheckpoint.SaveWith(single, optimizer, () => written = true);
        Assert.True(written);
        Assert.Throws<UnauthorizedAccessException>(() => DistributedCheckpoint.SaveWith(single, optimizer, () => throw new UnauthorizedAccessException("read-only")));
        Assert.Throws<FileNotFoundException>(() => DistributedCheckpoint.Load(single, optimizer, Path.Combine(Path.GetTempPath(), $"{Guid.NewGuid():N}.ckpt")));
    }

    [Fact]
    public void LoadWith_AnyRanksRefusal_ReachesEveryRank()
    {
        // Rank 1's loader throws something other than a file error (here: the optimizer is busy); rank 0 loaded fine but
        // must not continue alone, and must learn it from the agreement, not from a timeout.
        var outcomes = InProcessRanks.Run(2, ranks => DistributedCheckpoint.LoadWith(ranks, () =>
        {
            if (ranks.Rank == 1)
            {
                throw new InvalidOperationException("busy");
            }
        }));

        Assert.Contains("1 rank(s) could not load the checkpoint", Assert.IsType<InvalidDataException>(outcomes[0]).Message, StringComparison.Ordinal);
        Assert.Equal("busy", Assert.IsType<InvalidOperationException>(outcomes[1]).Message);
    }

    [Fact]
    public void TrainCommand_AcceptsDistributed()
    {
        var result = new RootCommand { TrainCommand.Create() }.Parse(["train", "--distributed", "--model", "mlp"]);

        Assert.Empty(result.Errors);
    }
}
