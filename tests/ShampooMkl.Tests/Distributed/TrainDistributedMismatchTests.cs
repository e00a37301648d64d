using ShampooMkl.Cli.Errors;

namespace ShampooMkl.Tests.Distributed;

/// <summary>Issue #11, defects 1 and 2, as reported: <c>shampoo-mkl train --distributed</c> on two ranks started with
/// different options (an MPMD job, <c>mpirun -np 1 … : -np 1 …</c>). Before the start-up handshake a different
/// <c>--model</c> corrupted the native heap (SIGABRT), a different <c>--epochs</c> hung for ever, and a different
/// <c>--batch-size</c> or <c>--optimizer</c> failed late with MPI_ERR_TRUNCATE and a stack trace. Now every rank stops
/// promptly, before any training, with one line naming the option and each rank's value, and exit code 3.</summary>
[Collection(nameof(MpiJobs))]
[Trait("Category", "Mpi")]
public sealed class TrainDistributedMismatchTests
{
    /// <summary>Kills a hung job (the old behaviour of different --epochs) so that it fails instead of blocking the run.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>Two cold CLI start-ups and one exchange; a run that trained first would take longer.</summary>
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("--model", "linear", "mlp")]
    [InlineData("--epochs", "1", "2")]
    [InlineData("--batch-size", "64", "128")]
    [InlineData("--optimizer", "adamw", "shampoo")]
    public void RanksStartedWithDifferentOptions_AllStopPromptly_WithOneLineNamingTheOption(string option, string first, string second)
    {
        var job = MpiJob.RunMpmd(Limit, new Dictionary<string, string>(),
            new MpiApp(1, MpiJob.Cli, Arguments(option, first)),
            new MpiApp(1, MpiJob.Cli, Arguments(option, second)));

        Assert.True(job.ExitCode == ExitCodes.Ranks, $"Expected exit code {ExitCodes.Ranks}.{Environment.NewLine}{job.Description}");
        Assert.True(job.Elapsed < Prompt, "The ranks did not stop promptly." + Environment.NewLine + job.Description);
        foreach (var rank in new[] { 0, 1 })
        {
            var line = $"[rank {rank}] {ErrorPolicy.Prefix}The 2 ranks were not started with the same settings ({option}: rank 0 has {first}, rank 1 has {second}); " +
                       "start every rank with the same arguments.";
            Assert.True(job.Stderr.Contains(line, StringComparison.Ordinal), $"Expected '{line}'.{Environment.NewLine}{job.Description}");
        }

        var output = job.Stdout + job.Stderr;
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("corruption", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Epoch", job.Stdout, StringComparison.Ordinal);
    }

    /// <summary>A quick run (linear model, AdamW, one epoch) in which only <paramref name="option"/> is set to <paramref name="value"/>.</summary>
    private static string[] Arguments(string option, string value)
    {
        var options = new Dictionary<string, string>
        {
            ["--model"] = "linear",
            ["--optimizer"] = "adamw",
            ["--epochs"] = "1",
            ["--batch-size"] = "128",
            [option] = value,
        };
        return ["train", "--distributed", .. options.SelectMany(o => new[] { o.Key, o.Value })];
    }
}
