using System.CommandLine;
using System.Globalization;
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

/// <summary>Turns a <see cref="DoctorReport"/> into Spectre.Console tables (plain text when output is redirected).</summary>
internal static class DoctorRenderer
{
    /// <summary>Writes the whole report.</summary>
    public static void Render(DoctorReport report, IAnsiConsole console)
    {
        // Redirected output gets Spectre's 80-column default, which would fold library paths and version
        // strings mid-word in CI logs; a wider canvas keeps each fact on one line.
        if (!console.Profile.Out.IsTerminal && console.Profile.Width < 160)
        {
            console.Profile.Width = 160;
        }

        var machine = new Table().Title("Machine").AddColumn("Property").AddColumn("Value");
        machine.AddRow("OS", Markup.Escape(report.Machine.OsDescription));
        machine.AddRow("RID", Markup.Escape(report.Machine.RuntimeIdentifier));
        machine.AddRow("CPU", Markup.Escape(report.Machine.CpuModel));
        machine.AddRow("Logical cores", report.Machine.LogicalCores.ToString(CultureInfo.InvariantCulture));
        machine.AddRow(".NET", Markup.Escape(report.Machine.DotNetVersion));
        machine.AddRow("SHAMPOO_MKL_THREADING", Markup.Escape(report.Machine.MklThreadingVariable));
        console.Write(machine);

        foreach (var backend in report.Backends)
        {
            RenderBackend(backend, console);
        }

        foreach (var comparison in report.Comparisons)
        {
            console.MarkupLine(Markup.Escape(comparison.Summary));
        }

        var d = report.DefaultBackend;
        console.MarkupLine(d.Backend is not null
            ? $"Default backend: [bold]{Markup.Escape(d.Backend)}[/] ({Markup.Escape(d.Reason)})."
            : $"[red]Default backend: none ({Markup.Escape(d.Reason)}): {Markup.Escape(d.Error ?? "")}[/]");

        if (report.Passed)
        {
            console.MarkupLine("[green]All loaded backends passed the symbol and smoke checks.[/]");
        }
        else
        {
            foreach (var failure in report.Failures)
            {
                console.MarkupLine($"[red]FAIL: {Markup.Escape(failure)}[/]");
            }
        }
    }

    private static void RenderBackend(BackendReport backend, IAnsiConsole console)
    {
        var table = new Table().Title(backend.Name).AddColumn("Check").AddColumn("Result");
        if (!backend.Loaded)
        {
            table.AddRow("Loaded", "[yellow]no[/]");
            table.AddRow("Attempts", Markup.Escape(string.Join(Environment.NewLine, backend.Attempts)));
            console.Write(table);
            return;
        }

        table.AddRow("Loaded", "[green]yes[/]");
        table.AddRow("Library", Markup.Escape(backend.LibraryPath ?? ""));
        table.AddRow("Version", Markup.Escape(backend.Version ?? ""));
        if (backend.ThreadingLayer is not null)
        {
            table.AddRow("Threading layer in force", Markup.Escape(backend.ThreadingLayer));
        }

        table.AddRow("Max threads", backend.MaxThreads?.ToString(CultureInfo.InvariantCulture) ?? "?");
        var missing = backend.Symbols.Where(s => !s.Found).Select(s => s.Name).ToList();
        table.AddRow("Symbols", missing.Count == 0
            ? $"[green]all {backend.Symbols.Count} found[/]: {Markup.Escape(string.Join(", ", backend.Symbols.Select(s => s.Name)))}"
            : $"[red]missing: {Markup.Escape(string.Join(", ", missing))}[/]");
        foreach (var smoke in backend.SmokeTests)
        {
            var numbers = string.Create(CultureInfo.InvariantCulture, $"error {smoke.Error:0.##E+0} (tolerance {smoke.Tolerance:0.##E+0})");
            table.AddRow(Markup.Escape(smoke.Name), smoke.Passed
                ? $"[green]pass[/] {numbers}"
                : $"[red]FAIL[/] {numbers}{Markup.Escape(smoke.Detail is null ? "" : ": " + smoke.Detail)}");
        }

        foreach (var benchmark in backend.Benchmarks)
        {
            table.AddRow($"{benchmark.Routine} n={benchmark.Size}", benchmark.Routine == NativeDiagnostics.EigenRoutine
                ? string.Create(CultureInfo.InvariantCulture,
                    $"{benchmark.BestSeconds * 1e3:0.00} ms (best of {benchmark.Repetitions}; {benchmark.Gflops:0.0} GFLOP/s at a nominal 9n³ flops)")
                : string.Create(CultureInfo.InvariantCulture,
                    $"{benchmark.Gflops:0.0} GFLOP/s (best of {benchmark.Repetitions}, {benchmark.BestSeconds * 1e3:0.00} ms)"));
        }

        console.Write(table);
    }
}
