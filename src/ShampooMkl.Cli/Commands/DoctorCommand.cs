using System.CommandLine;
using ShampooMkl.Cli.Diagnostics;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

/// <summary><c>shampoo-mkl doctor</c>: checks the native backends and reports what works, how well and how fast.</summary>
internal static class DoctorCommand
{
    /// <summary>Builds the command with its options and action.</summary>
    public static Command Create()
    {
        var json = new Option<FileInfo?>("--json")
        {
            Description = "Also write the report as JSON to this file.",
            HelpName = "FILE",
        };
        var gemmSize = new Option<int>("--gemm-size")
        {
            Description = "Matrix size n of the dgemm/sgemm GFLOP/s measurement.",
            DefaultValueFactory = _ => 1024,
        };
        gemmSize.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--gemm-size must be at least 1.");
            }
        });
        var eigenSize = new Option<int>("--eigen-size")
        {
            Description = "Matrix size n of the dsyevd timing (the kernel of a root refresh).",
            DefaultValueFactory = _ => 512,
        };
        eigenSize.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--eigen-size must be at least 1.");
            }
        });
        var repetitions = new Option<int>("--repetitions")
        {
            Description = "Timed repetitions per GEMM and dsyevd after one warm-up; the best one is reported.",
            DefaultValueFactory = _ => 5,
        };
        repetitions.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--repetitions must be at least 1.");
            }
        });

        var command = new Command("doctor", "Check the MKL and OpenBLAS backends: loading, symbols, correctness and speed.")
        {
            json,
            gemmSize,
            eigenSize,
            repetitions,
        };
        command.SetAction(parseResult =>
        {
            var options = new DoctorOptions(
                parseResult.GetValue(gemmSize),
                parseResult.GetValue(repetitions),
                parseResult.GetValue(GlobalOptions.Blas),
                parseResult.GetValue(eigenSize));
            return Execute(options, parseResult.GetValue(json)?.FullName, AnsiConsole.Console);
        });
        return command;
    }

    /// <summary>Runs the diagnosis, renders it, writes the JSON file if asked; returns the exit code.</summary>
    public static int Execute(DoctorOptions options, string? jsonPath, IAnsiConsole console)
    {
        var report = NativeDiagnostics.Run(options);
        DoctorRenderer.Render(report, console);
        if (jsonPath is not null)
        {
            NativeDiagnostics.WriteJson(report, jsonPath);
            console.MarkupLine($"JSON report written to [blue]{Markup.Escape(jsonPath)}[/].");
        }

        return report.Passed ? 0 : 1;
    }
}
