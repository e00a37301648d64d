using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Reporting;
using Spectre.Console;

namespace ShampooMkl.Tests.Training;

/// <summary>Reports survive JSON, and the console and plot renderers turn them into readable output.</summary>
public sealed class TrainingReportTests
{
    private static TrainingReport Sample(string optimizer = "shampoo2", double firstTrainLoss = 0.51234567890123) => new()
    {
        Model = "mlp (784-256-128-10)",
        Optimizer = optimizer,
        Hyperparameters = new Dictionary<string, string> { ["lr"] = "0.001", ["beta2"] = "0.999" },
        Seed = 3,
        BatchSize = 128,
        PlannedEpochs = 2,
        TrainExamples = 8000,
        TestExamples = 2000,
        Backend = "Mkl 2020",
        Threads = 2,
        ResumedAfterEpoch = 1,
        Epochs =
        [
            new EpochRecord(1, firstTrainLoss, 0.3, 0.91, 1.25, 0.02, 0.9, 0.4, 63, 0, 50.4, 1e-3),
            new EpochRecord(2, 0.25, double.NaN, 0.935, 1.5, 0.02, 1.1, 0.5, 63, 2, 42, 1e-3),
        ],
    };

    [Fact]
    public void Json_RoundTripsEveryValueExactly()
    {
        var report = Sample();
        var json = TrainingJson.Serialize(report);
        var back = TrainingJson.DeserializeReport(json);

        Assert.Equal(report.Epochs, back.Epochs); // records compare by value, including NaN == NaN
        Assert.Equal(report.Hyperparameters, back.Hyperparameters);
        Assert.Equal(report with { Epochs = back.Epochs, Hyperparameters = back.Hyperparameters }, back);
        Assert.Equal(json, TrainingJson.Serialize(back));
        Assert.Contains("\"trainLoss\": 0.51234567890123", json);
        Assert.Contains("\"testLoss\": \"NaN\"", json);
    }

    [Fact]
    public void Json_ComparisonRoundTrips()
    {
        var comparison = new TrainingComparison { Description = "demo", Backend = "Mkl", TotalSeconds = 12.5, Runs = [Sample(), Sample("adamw")] };
        var json = TrainingJson.Serialize(comparison);
        var back = TrainingJson.DeserializeComparison(json);

        Assert.Equal(["shampoo2", "adamw"], back.Runs.Select(r => r.Optimizer));
        Assert.Equal(json, TrainingJson.Serialize(back));
    }

    [Fact]
    public void Json_RejectsTextThatIsNotAReport()
    {
        Assert.Throws<InvalidDataException>(() => TrainingJson.DeserializeReport("[1, 2]"));
        Assert.Throws<InvalidDataException>(() => TrainingJson.DeserializeReport("{\"epochs\": 3}"));
    }

    [Fact]
    public void Plot_WritesAPng()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "sub", "loss.png");
        LossPlot.Save([Sample(), Sample("adamw", 0.7)], path);

        var header = File.ReadAllBytes(path).Take(8).ToArray();
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, header);
    }

    [Fact]
    public void PlainConsole_PrintsOneLinePerEpoch()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Out = new AnsiConsoleOutput(writer) });
        var report = Sample();
        var job = new TrainingJob("shampoo2", observer =>
        {
            observer.OnRunStarted(1, 2, 63);
            foreach (var e in report.Epochs)
            {
                observer.OnEpochCompleted(e);
            }

            return report;
        });

        var reports = TrainingConsole.Run(console, [job], live: false);

        Assert.Same(report, reports[0]);
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal("shampoo2 epoch 1/2: train loss 0.5123, test loss 0.3000, test accuracy 91.00%, 1.25 s (optimizer 0.90 s, refresh 0.40 s), 50.4 steps/s, skipped 0", lines[1]);
        Assert.StartsWith("shampoo2 epoch 2/2:", lines[2]);
    }

    [Fact]
    public void ComparisonTable_ListsEveryRun()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = 200;
        console.Write(TrainingTables.Comparison([Sample(), Sample("adamw")]));
        var text = writer.ToString();
        Assert.Contains("shampoo2", text);
        Assert.Contains("adamw", text);
        Assert.Contains("93.50%", text);
    }
}
