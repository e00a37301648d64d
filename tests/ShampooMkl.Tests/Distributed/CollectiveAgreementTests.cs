namespace ShampooMkl.Tests.Distributed;

/// <summary>The mechanism behind issue #11's defects 1 and 2, through the MPI host: every collective agrees on its
/// signature first (size-checked collectives), waits are bounded, and <see cref="Analysis.Training.Trainer"/> runs the
/// start-up handshake, so ranks that disagree stop together with the difference instead of corrupting memory or hanging.</summary>
[Collection(nameof(MpiJobs))]
[Trait("Category", "Mpi")]
public sealed class CollectiveAgreementTests
{
    /// <summary>Kills a hung job; generous for cold .NET start-ups on a loaded 2-core machine.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>How soon a refused job must have ended: start-up plus one exchange, far below any hang.</summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(30);

    [Fact]
    public void MismatchedLengths_EmptyAgainstFull_AndDifferentCollectives_ThrowOnEveryRank_AndTheRanksStayInStep()
    {
        var job = MpiJob.Run(3, Limit, "sizes");

        job.AssertSucceededWith("sizes ok size=3");
        foreach (var rank in new[] { 0, 1, 2 })
        {
            AssertHas(job, $"[rank {rank}] mismatch in MPI_Allreduce (float): Ranks called MPI_Allreduce (float) with different lengths (10 to 30 elements).");
            AssertHas(job, $"[rank {rank}] mismatch in MPI_Allreduce (double): Ranks called MPI_Allreduce (double) with different lengths (0 to 3 elements).");
            AssertHas(job, $"[rank {rank}] mismatch in ");
        }

        Assert.Equal(3, CountOf(job.Stderr, "Ranks called different collectives at the same point (MPI_Allreduce (double) and MPI_Bcast)"));
    }

    [Fact]
    public void RankThatStopsAnswering_TimesTheOthersOut_WithTheCollectiveNamed()
    {
        var job = MpiJob.Run(2, Limit, new Dictionary<string, string> { ["SHAMPOO_MPI_TIMEOUT"] = "2" }, "stall", "--iterations", "40");

        Assert.True(job.ExitCode != 0, "A timed-out rank must fail the job." + Environment.NewLine + job.Description);
        Assert.True(job.Elapsed < Prompt, "The waiting rank did not give up in time." + Environment.NewLine + job.Description);
        AssertHas(job, "[rank 0] MpiTimeoutException: Rank 0 of 2 waited 2 s in the agreement before MPI_Allreduce (double) without hearing from the other ranks");
        Assert.DoesNotContain("stall ok", job.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--epochs", "2", "3", "plan: rank 0 has 2 epochs, rank 1 has 3 epochs")]
    [InlineData("--hidden", "16", "24", "parameter shapes: rank 0 has fc1.weight[16x20];fc1.bias[16];fc2.weight[5x16];fc2.bias[5], rank 1 has fc1.weight[24x20]")]
    [InlineData("--lr", "0.01", "0.02", "optimizer options: rank 0 has …ons { LearningRate = 0.01,")]
    public void TrainerRanksWithDifferentSettings_StopTogetherBeforeTheFirstCollective_NamingTheDifference(string option, string first, string second, string difference)
    {
        var job = MpiJob.RunMpmd(Limit, new Dictionary<string, string>(),
            new MpiApp(1, MpiJob.Host, ["trainer", "--distributed", option, first]),
            new MpiApp(1, MpiJob.Host, ["trainer", "--distributed", option, second]));

        Assert.True(job.ExitCode == 3, "Expected the host's mismatch exit code 3." + Environment.NewLine + job.Description);
        Assert.True(job.Elapsed < Prompt, job.Description);
        foreach (var rank in new[] { 0, 1 })
        {
            AssertHas(job, $"[rank {rank}] RankMismatchException: The 2 ranks were not started with the same settings ({difference}");
        }

        Assert.DoesNotContain("checksum=", job.Stdout, StringComparison.Ordinal);
    }

    private static void AssertHas(JobResult job, string text) =>
        Assert.True(job.Stderr.Contains(text, StringComparison.Ordinal), $"Expected stderr to contain '{text}'.{Environment.NewLine}{job.Description}");

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
