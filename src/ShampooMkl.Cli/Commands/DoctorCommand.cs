using System.CommandLine;
using ShampooMkl.Cli.Diagnostics;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

/// <summary><c>shampoo-mkl doctor</c>: checks the native backends and reports what works, how well and how fast.</summary>
internal static class DoctorCommand
{
    /// <summary>Largest matrix the measurements accept: three fp64 8192² matrices are 1.5 GiB.</summary>
    internal const int MaxMatrixSize = 8_192;

    /// <summary>Builds the command with its options and action.</summary>
    public static Command Create()
    {
        var json = new Option<FileInfo?>("--json")
        {
            Description = "Also write the report as JSON to this file.",
            HelpName = "FILE",
        };
        var gemmSize = NumericOptions.Int("--gemm-size", "Matrix size n of the dgemm/sgemm GFLOP/s measurement.", 1024, 1, MaxMatrixSize);
        var eigenSize = NumericOptions.Int("--eigen-size", "Matrix size n of the dsyevd timing (the kernel of a root refresh).", 512, 1, MaxMatrixSize);
        var repetitions = NumericOptions.Int("--repetitions",
            "Timed repetitions per GEMM and dsyevd after one warm-up; the best one is reported.", 5, 1, 1_000);

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
            return Execute(options, parseResult.GetValue(json)?.FullName, Reporting.CliConsole.Shared);
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
