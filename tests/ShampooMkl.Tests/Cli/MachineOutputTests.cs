using System.Collections;
using System.Text.Json;
using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Reporting;
using ShampooMkl.Tests.Training;
using Spectre.Console;

namespace ShampooMkl.Tests.Cli;

/// <summary>Outputs read by programs and logs: typed, versioned JSON; unwrapped, escape-free, time-paced plain text.</summary>
public class MachineOutputTests
{
    private static TrainingReport Report() => new()
    {
        Model = "mlp",
        Optimizer = "shampoo2",
        Hyperparameters = OptimizerPresets.Create(OptimizerKind.ShampooSquared, TrainingTestData.SmallMlp(4).Parameters).Hyperparameters,
        Epochs = [new EpochRecord(1, 0.5, double.NaN, 0.9, 1.25, 0.02, 0.9, 0.4, 63, 0, 50.4, 1e-3)],
    };

    private static void AssertVersionFirst(JsonElement root, int expected)
    {
        var first = root.EnumerateObject().First();
        Assert.Equal("formatVersion", first.Name);
        Assert.Equal(JsonValueKind.Number, first.Value.ValueKind);
        Assert.Equal(expected, first.Value.GetInt32());
    }

    [Fact]
    public void TrainingReportJson_HasTypedHyperparametersAndAVersion()
    {
        var report = Report();
        using var document = JsonDocument.Parse(TrainingJson.Serialize(report));
        var root = document.RootElement;
        AssertVersionFirst(root, TrainingReport.CurrentFormatVersion);
        var hyper = root.GetProperty("hyperparameters");
        Assert.Equal(JsonValueKind.Number, hyper.GetProperty("lr").ValueKind);
        Assert.Equal(double.Parse(report.Hyperparameters["lr"], System.Globalization.CultureInfo.InvariantCulture), hyper.GetProperty("lr").GetDouble());
        Assert.Equal(JsonValueKind.Number, hyper.GetProperty("epsilon").ValueKind);
        Assert.True(hyper.GetProperty("traceNormalized").ValueKind is JsonValueKind.True or JsonValueKind.False);
        Assert.Equal(JsonValueKind.String, hyper.GetProperty("grafting").ValueKind);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("seed").ValueKind);
        // No hyperparameter stays a quoted number or boolean.
        foreach (var p in hyper.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String))
        {
            var text = p.Value.GetString()!;
            Assert.False(double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out _) || text is "true" or "false",
                $"hyperparameter '{p.Name}' is the string \"{text}\"");
        }

        var back = TrainingJson.DeserializeReport(TrainingJson.Serialize(report));
        Assert.Equal(report.Hyperparameters.OrderBy(h => h.Key), back.Hyperparameters.OrderBy(h => h.Key));
    }

    [Theory]
    [InlineData("0.005", JsonValueKind.Number)]
    [InlineData("1E-12", JsonValueKind.Number)]
    [InlineData("-3", JsonValueKind.Number)]
    [InlineData("true", JsonValueKind.True)]
    [InlineData("false", JsonValueKind.False)]
    [InlineData("null", JsonValueKind.Null)]
    [InlineData("Adam", JsonValueKind.String)]
    [InlineData("NaN", JsonValueKind.String)]
    [InlineData("-Infinity", JsonValueKind.String)]
    [InlineData("007", JsonValueKind.Number)]
    public void Hyperparameter_IsWrittenAsItsJsonType(string text, JsonValueKind kind)
    {
        var json = TrainingJson.Serialize(Report() with { Hyperparameters = new Dictionary<string, string> { ["x"] = text } });
        using var document = JsonDocument.Parse(json);
        Assert.Equal(kind, document.RootElement.GetProperty("hyperparameters").GetProperty("x").ValueKind);
    }

    [Fact]
    public void ComparisonAndExperimentJson_CarryAVersion()
    {
        using (var comparison = JsonDocument.Parse(TrainingJson.Serialize(new TrainingComparison { Description = "d", Runs = [Report()] })))
        {
            AssertVersionFirst(comparison.RootElement, TrainingComparison.CurrentFormatVersion);
            AssertVersionFirst(comparison.RootElement.GetProperty("runs")[0], TrainingReport.CurrentFormatVersion);
        }

        var metrics = new GradientFileMetrics(3, 2, 2, "<f8", false, 1, 2, 0.9, 0.8, 0.7, 10, true, 1e-9, 1e-8, 0.1);
        using var parsed = JsonDocument.Parse(metrics.ToJson());
        AssertVersionFirst(parsed.RootElement, GradientFileMetrics.CurrentFormatVersion);
        Assert.Equal(JsonValueKind.True, parsed.RootElement.GetProperty("converged").ValueKind);
        Assert.Equal(metrics, GradientFileMetrics.FromJson(metrics.ToJson()));
    }

    [Theory]
    [InlineData(false, null, null, true)]
    [InlineData(true, null, null, false)]
    [InlineData(false, "NO_COLOR", "1", false)]
    [InlineData(false, "NO_COLOR", "", true)]
    [InlineData(false, "OMPI_COMM_WORLD_RANK", "0", false)]
    [InlineData(false, "PMI_RANK", "1", false)]
    public void Ansi_OnlyInATerminalWithoutNoColorOrMpi(bool redirected, string? name, string? value, bool expected)
    {
        var environment = new Hashtable();
        if (name is not null)
        {
            environment[name] = value;
        }

        Assert.Equal(expected, CliConsole.AllowsAnsi(redirected, environment));
    }

    [Theory]
    [InlineData(true, null)]
    [InlineData(false, "NO_COLOR")]
    [InlineData(false, "OMPI_COMM_WORLD_RANK")]
    [InlineData(false, "PMI_RANK")]
    public void PlainConsole_WritesNoEscapeCodes(bool redirected, string? variable)
    {
        var environment = new Hashtable();
        if (variable is not null)
        {
            environment[variable] = "1";
        }

        var writer = new StringWriter();
        var console = CliConsole.Create(writer, redirected, environment);
        console.MarkupLine("[red]error[/] [bold blue]path[/]");
        Assert.DoesNotContain('\u001b', writer.ToString());
        Assert.Contains("error path", writer.ToString());
    }

    [Fact]
    public void RedirectedConsole_KeepsALongLineWhole()
    {
        var writer = new StringWriter();
        var console = CliConsole.Create(writer, redirected: true, new Hashtable());
        var line = string.Join(' ', Enumerable.Range(0, 60).Select(i => $"word{i}"));
        Assert.True(line.Length > 300);

        console.MarkupLine(Markup.Escape(line));
        console.Write(TrainingTables.Comparison([Report() with { Optimizer = line }]));

        var lines = writer.ToString().Split('\n');
        Assert.Equal(line, lines[0].TrimEnd('\r'));
        Assert.Contains(lines, l => l.Contains(line, StringComparison.Ordinal));
    }

    [Fact]
    public void PlainObserver_PrintsProgressAtMostEveryFiveSecondsWithoutRedraws()
    {
        var clock = new ManualClock();
        var writer = new StringWriter();
        var observer = new PlainTrainingObserver(writer, "mlp shampoo2", clock);
        observer.OnRunStarted(1, 1, 30);
        for (var step = 1; step <= 30; step++)
        {
            // Half a second a step: 15 s in all, so lines at 5 s and 10 s (steps 11 and 21), none at 15 s (the last step).
            clock.Advance(TimeSpan.FromSeconds(step == 1 ? 0 : 0.5));
            observer.OnStep(new TrainingProgress(1, 1, step, 30, 0.5, 0.412, 2, null));
        }

        var text = writer.ToString();
        Assert.DoesNotContain('\r', text.Replace(Environment.NewLine, "\n", StringComparison.Ordinal));
        var progress = text.Split('\n', StringSplitOptions.TrimEntries).Where(l => l.Contains(": step ", StringComparison.Ordinal)).ToList();
        Assert.Equal(["mlp shampoo2 epoch 1/1: step 11/30, loss 0.4120, 5 s", "mlp shampoo2 epoch 1/1: step 21/30, loss 0.4120, 10 s"], progress);
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public void Advance(TimeSpan by) => now += by;

        public override DateTimeOffset GetUtcNow() => now;
    }
}
