using System.Diagnostics;

namespace ShampooMkl.Tests.Distributed;

/// <summary>Multi-host MPI for real: two ranks of the MPI host's <c>trainer</c> command (Trainer, Shampoo, checkpoints)
/// on two hosts made of network namespaces (<see cref="NetworkNamespaceHosts"/>), talking Open MPI over TCP on a veth
/// pair. Training across the hosts must equal the single-host two-rank run bit for bit; cutting the link mid-run must
/// end every rank within a bounded time with a clear message, leaving a last complete checkpoint that resumes.</summary>
[Collection(nameof(MpiJobs))]
[Trait("Category", "Mpi")]
public sealed class MultiHostMpiTests : IClassFixture<NetworkNamespaceHosts>
{
    /// <summary>Collective timeout of the ranks in the cut run (<c>SHAMPOO_MPI_TIMEOUT</c>), in seconds.</summary>
    private const int TimeoutSeconds = 3;

    /// <summary>Kills a job that hangs; cold .NET start-ups on two hosts of a loaded 2-core machine fit well inside.</summary>
    private static readonly TimeSpan JobLimit = TimeSpan.FromSeconds(120);

    /// <summary>How soon after the cut every rank must have ended: the timeout plus generous slack, far below TCP's minutes.</summary>
    private static readonly TimeSpan EndAfterCut = TimeSpan.FromSeconds(TimeoutSeconds + 27);

    private readonly NetworkNamespaceHosts hosts;

    public MultiHostMpiTests(NetworkNamespaceHosts hosts) => this.hosts = hosts;

    [Fact]
    public void TrainingAcrossTwoHosts_EqualsTheSingleHostRun_BitForBit()
    {
        var across = Path.Combine(hosts.Folder, "across.bin");
        var sentBefore = hosts.BytesSentByA();
        using (var job = hosts.Start("straight", new Dictionary<string, string>(), MpiJob.Host,
                   "trainer", "--epochs", "3", "--distributed", "--out", across))
        {
            Assert.True(job.WaitForExit(JobLimit), "The two-host job did not finish." + Environment.NewLine + job.Describe());
            Assert.True(job.ExitCode == 0, "The two-host job failed." + Environment.NewLine + job.Describe());
            Assert.Equal(hosts.NamespaceA, job.Namespace(0));
            Assert.Equal(hosts.NamespaceB, job.Namespace(1));
            Assert.Contains("trainer ok ranks=2 epochs=3 resumedAfter=0", job.Stdout(0), StringComparison.Ordinal);
        }

        // The gradients went over the veth: at least one fp32 gradient of the 629-parameter MLP per step (3 epochs × 8 steps).
        Assert.True(hosts.BytesSentByA() - sentBefore > 3 * 8 * 629 * sizeof(float), "Host A sent too little over the link for the training to have used it.");

        var local = Path.Combine(hosts.Folder, "local.bin");
        MpiJob.Run(2, "trainer", "--epochs", "3", "--distributed", "--out", local).AssertSucceededWith("trainer ok ranks=2 epochs=3 resumedAfter=0");
        Assert.Equal(File.ReadAllBytes(local), File.ReadAllBytes(across));
    }

    [Fact]
    public void CuttingTheLinkMidRun_EndsEveryRankPromptlyWithAClearMessage_AndTheLastCompleteCheckpointResumes()
    {
        var checkpoint = Path.Combine(hosts.Folder, "cut-checkpoint");
        var environment = new Dictionary<string, string> { ["SHAMPOO_MPI_TIMEOUT"] = $"{TimeoutSeconds}" };
        try
        {
            using var job = hosts.Start("cut", environment, MpiJob.Host,
                "trainer", "--epochs", "4", "--distributed", "--checkpoint", checkpoint, "--pause-ms", "4000");

            // Each rank pauses 4 s after every epoch, once the epoch's checkpoint is complete on every rank (the host
            // prints "completed epoch N" then): cut during the pause after epoch 1, so the next collective cannot finish.
            foreach (var rank in new[] { 0, 1 })
            {
                Assert.True(job.WaitForOutput(rank, "completed epoch 1", JobLimit), $"Rank {rank} did not complete epoch 1." + Environment.NewLine + job.Describe());
            }

            Assert.True(File.Exists(Path.Combine(checkpoint, "checkpoint.json")), "No checkpoint after epoch 1." + Environment.NewLine + job.Describe());
            hosts.Cut();
            var sinceCut = Stopwatch.StartNew();
            foreach (var rank in new[] { 0, 1 })
            {
                Assert.True(job.WaitForRankToEnd(rank, EndAfterCut - sinceCut.Elapsed),
                    $"Rank {rank} still runs {sinceCut.Elapsed.TotalSeconds:F0} s after the cut." + Environment.NewLine + job.Describe());
            }

            foreach (var rank in new[] { 0, 1 })
            {
                Assert.True(job.Stderr(rank).Contains(
                        $"[rank {rank}] MpiTimeoutException: Rank {rank} of 2 waited {TimeoutSeconds} s in the agreement before MPI_Allreduce (float) " +
                        "without hearing from the other ranks: a rank or the network between the hosts is gone", StringComparison.Ordinal),
                    $"Rank {rank} did not say why it stopped." + Environment.NewLine + job.Describe());
                Assert.True(job.RankExitCode(rank) == 4, $"Rank {rank} should exit with the host's timeout code 4." + Environment.NewLine + job.Describe());
                Assert.Contains("completed epoch 1", job.Stdout(rank), StringComparison.Ordinal);
                Assert.DoesNotContain("completed epoch 2", job.Stdout(rank), StringComparison.Ordinal);
            }
        }
        finally
        {
            hosts.Restore();
        }

        // Only the last complete checkpoint, nothing partial; it resumes, and the result equals a run that never stopped.
        var entries = Directory.EnumerateFileSystemEntries(checkpoint, "*", SearchOption.AllDirectories)
            .Select(e => Path.GetRelativePath(checkpoint, e)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal([Analysis.Training.CheckpointFolderLock.FileName, "checkpoint.json", "epoch-0001", Path.Combine("epoch-0001", "optimizer.ckpt")], entries);
        var resumed = Path.Combine(hosts.Folder, "resumed.bin");
        MpiJob.Run(2, "trainer", "--epochs", "4", "--distributed", "--checkpoint", checkpoint, "--resume", "--out", resumed)
            .AssertSucceededWith("trainer ok ranks=2 epochs=4 resumedAfter=1");
        var straight = Path.Combine(hosts.Folder, "straight4.bin");
        MpiJob.Run(2, "trainer", "--epochs", "4", "--distributed", "--out", straight).AssertSucceededWith("trainer ok ranks=2 epochs=4 resumedAfter=0");
        Assert.Equal(File.ReadAllBytes(straight), File.ReadAllBytes(resumed));
    }
}
