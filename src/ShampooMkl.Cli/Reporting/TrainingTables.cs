using System.Globalization;
using ShampooMkl.Analysis.Training;
using Spectre.Console;

namespace ShampooMkl.Cli.Reporting;

/// <summary>Spectre.Console tables for training results: per epoch for one run, per run for a comparison.</summary>
internal static class TrainingTables
{
    /// <summary>One row per epoch of a run.</summary>
    public static Table Epochs(TrainingReport report)
    {
        var table = new Table()
            .Title(Markup.Escape($"{report.Model} / {report.Optimizer}"))
            .AddColumn("Epoch")
            // Two-line headers keep all nine columns readable in an 80-column terminal.
            .AddColumn(new TableColumn("Train\nloss").RightAligned())
            .AddColumn(new TableColumn("Test\nloss").RightAligned())
            .AddColumn(new TableColumn("Test\nacc.").RightAligned())
            .AddColumn(new TableColumn("Time\n(s)").RightAligned())
            .AddColumn(new TableColumn("Optim.\n(s)").RightAligned())
            .AddColumn(new TableColumn("Refresh\n(s)").RightAligned())
            .AddColumn(new TableColumn("Steps\n/s").RightAligned())
            .AddColumn(new TableColumn("Skipped").RightAligned());
        foreach (var e in report.Epochs)
        {
            table.AddRow(
                F($"{e.Epoch}"),
                F($"{e.TrainLoss:0.0000}"),
                F($"{e.TestLoss:0.0000}"),
                F($"{e.TestAccuracy * 100:0.00}%"),
                F($"{e.WallSeconds:0.00}"),
                F($"{e.OptimizerSeconds:0.00}"),
                F($"{e.RefreshSeconds:0.00}"),
                F($"{e.StepsPerSecond:0.0}"),
                F($"{e.SkippedSteps}"));
        }

        return table;
    }

    /// <summary>One row per run with its final epoch and total times.</summary>
    public static Table Comparison(IReadOnlyList<TrainingReport> runs, string? title = null)
    {
        // Skipped steps are rare; the column only appears when there is something to show, which keeps the table
        // inside an 80-column terminal otherwise.
        var showSkipped = runs.Any(r => r.Epochs.Any(e => e.SkippedSteps > 0));
        var table = new Table()
            .Title(Markup.Escape(title ?? "Comparison"))
            .AddColumn(new TableColumn("Optimizer").NoWrap())
            .AddColumn(new TableColumn("LR").RightAligned())
            .AddColumn(new TableColumn("Test\nacc.").RightAligned())
            .AddColumn(new TableColumn("Test\nloss").RightAligned())
            .AddColumn(new TableColumn("Train\nloss").RightAligned())
            .AddColumn(new TableColumn("Time\n(s)").RightAligned())
            .AddColumn(new TableColumn("Optim.\n(s)").RightAligned())
            .AddColumn(new TableColumn("Refresh\n(s)").RightAligned());
        if (showSkipped)
        {
            table.AddColumn(new TableColumn("Skipped").RightAligned());
        }

        var best = runs.Where(r => r.Final is not null).Select(r => r.Final!.TestAccuracy).DefaultIfEmpty(double.NaN).Max();
        foreach (var run in runs)
        {
            var last = run.Final;
            var accuracy = last is null ? "–" : F($"{last.TestAccuracy * 100:0.00}%");
            if (last is not null && last.TestAccuracy == best && runs.Count > 1)
            {
                accuracy = $"[bold green]{accuracy}[/]";
            }

            var cells = new List<string>
            {
                Markup.Escape(run.Optimizer),
                Markup.Escape(run.Hyperparameters.TryGetValue("lr", out var lr) ? lr : "?"),
                accuracy,
                last is null ? "–" : F($"{last.TestLoss:0.0000}"),
                last is null ? "–" : F($"{last.TrainLoss:0.0000}"),
                F($"{run.TotalTrainSeconds:0.00}"),
                F($"{run.TotalOptimizerSeconds:0.00}"),
                F($"{run.TotalRefreshSeconds:0.00}"),
            };
            if (showSkipped)
            {
                cells.Add(F($"{run.Epochs.Sum(e => e.SkippedSteps)}"));
            }

            table.AddRow([.. cells]);
        }

        return table;
    }

    private static string F(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
