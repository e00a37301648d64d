using ShampooMkl.Distributed;

namespace ShampooMkl.Tests.Distributed;

/// <summary>Real multi-process jobs under mpirun over shared memory/loopback; each test starts one job.</summary>
/// <remarks>Kept in one collection so jobs run one after another: on a 2-core machine parallel jobs of
/// oversubscribed ranks only make every timeout tighter.</remarks>
[Collection(nameof(MpiJobs))]
[Trait("Category", "Mpi")]
public class MpiIntegrationTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void AllReduceSum_SumsEveryRanksVector_WithoutAllocating(int ranks)
    {
        var job = MpiJob.Run(ranks, "allreduce");

        job.AssertSucceededWith($"allreduce ok size={ranks} count=1003 allocated=0");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void AllGatherV_PlacesUnevenContributions_AndLeavesGapsAlone(int ranks)
    {
        MpiJob.Run(ranks, "allgatherv").AssertSucceededWith($"allgatherv ok size={ranks}");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Broadcast_CopiesDoublesBytesAndStructsFromTheRoot(int ranks)
    {
        MpiJob.Run(ranks, "bcast").AssertSucceededWith($"bcast ok size={ranks} root={ranks - 1}");
    }

    [Fact]
    public void BlockOwnership_IsComputedIdenticallyByEveryRank()
    {
        MpiJob.Run(3, "ownership").AssertSucceededWith("ownership ok size=3 items=37");
    }

    [Fact]
    public void RuntimeSignalHandlers_SurviveMpiInit()
    {
        MpiJob.Run(2, "signals").AssertSucceededWith("signals ok size=2");
    }

    [Fact]
    public void OneRankJob_UsesMpi()
    {
        MpiJob.Run(1, "info").AssertSucceededWith("info ok size=1");
    }

    [Fact]
    public void HostAlone_UsesTheSingleProcessCommunicator()
    {
        var job = MpiJob.RunAlone(new Dictionary<string, string>(), "info");

        job.AssertSucceededWith("info ok size=1");
        Assert.True(job.Stdout.Contains("single process", StringComparison.Ordinal), job.Description);
    }

    [Fact]
    public void HostAlone_WithMpiForced_InitialisesASingletonJob()
    {
        var job = MpiJob.RunAlone(new Dictionary<string, string> { [Communicators.ModeVariable] = "mpi" }, "info");

        job.AssertSucceededWith("info ok size=1");
        Assert.True(job.Stdout.Contains("Open MPI", StringComparison.Ordinal), job.Description);
    }

    [Fact]
    public void MismatchedBroadcast_ThrowsCollectiveMismatchOnEveryRank_BeforeAnyDataMoves_AndTheRanksStayInStep()
    {
        var job = MpiJob.Run(2, "mismatch");

        // Before the size check, the longer root buffer ended in MPI_ERR_TRUNCATE on one rank only.
        job.AssertSucceededWith("mismatch ok size=2");
        foreach (var rank in new[] { 0, 1 })
        {
            Assert.True(job.Stderr.Contains($"[rank {rank}] mismatch in MPI_Bcast: Ranks called MPI_Bcast with different lengths (1,003 to 1,019 elements).",
                StringComparison.Ordinal), job.Description);
        }
    }

    [Theory]
    [InlineData("exit")]
    [InlineData("throw")]
    [InlineData("abort")]
    [InlineData("argument")]
    public void RankFailingBeforeACollective_EndsTheJobQuickly_WithoutClaimingSuccess(string mode)
    {
        var job = MpiJob.Run(2, TimeSpan.FromSeconds(60), "die", mode);

        Assert.True(job.ExitCode != 0, "mpirun must report the failed rank." + Environment.NewLine + job.Description);
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(30), "The surviving rank waited too long." + Environment.NewLine + job.Description);
        Assert.True(job.Stderr.Contains($"[rank 1] failing ({mode})", StringComparison.Ordinal), job.Description);
        Assert.False(job.Stdout.Contains("UNEXPECTED", StringComparison.Ordinal), job.Description);
        Assert.False(job.Stdout.Contains(" ok ", StringComparison.Ordinal), job.Description);
    }
}

/// <summary>Serialises the MPI job tests (see <see cref="MpiIntegrationTests"/>).</summary>
[CollectionDefinition(nameof(MpiJobs), DisableParallelization = true)]
public sealed class MpiJobs
{
}
