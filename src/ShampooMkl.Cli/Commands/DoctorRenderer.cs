using System.Globalization;
using ShampooMkl.Cli.Diagnostics;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

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
