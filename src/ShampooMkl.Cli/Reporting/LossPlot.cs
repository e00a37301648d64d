using System.Globalization;
using ScottPlot;
using ShampooMkl.Analysis.Training;

namespace ShampooMkl.Cli.Reporting;

/// <summary>Draws train and test loss per epoch for one or more runs into a PNG.</summary>
internal static class LossPlot
{
    /// <summary>Writes the plot: one colour per run, solid train loss and dashed test loss; creates the folder.</summary>
    /// <exception cref="ArgumentException">No run has a completed epoch.</exception>
    public static void Save(IReadOnlyList<TrainingReport> runs, string path, string? title = null, int width = 900, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (!runs.Any(r => r.Epochs.Count > 0))
        {
            throw new ArgumentException("There is nothing to plot: no run completed an epoch.", nameof(runs));
        }

        var plot = new Plot();
        var sharedModel = runs.Select(r => r.Model).Distinct().Count() == 1;
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < runs.Count; i++)
        {
            var run = runs[i];
            if (run.Epochs.Count == 0)
            {
                continue;
            }

            var epochs = run.Epochs.Select(e => (double)e.Epoch).ToArray();
            var color = palette.GetColor(i);
            // The model is in the title when all runs share it; only runs of one optimizer on several models need it per line.
            var label = sharedModel ? run.Optimizer : $"{run.Optimizer}, {run.Model}";
            AddLine(plot, epochs, run.Epochs.Select(e => e.TrainLoss).ToArray(), color, $"{label} train", LinePattern.Solid, MarkerShape.FilledCircle);
            AddLine(plot, epochs, run.Epochs.Select(e => e.TestLoss).ToArray(), color, $"{label} test", LinePattern.Dashed, MarkerShape.OpenCircle);
        }

        var model = sharedModel ? runs[0].Model : "several models";
        plot.Title(title ?? $"MNIST {model}: cross-entropy per epoch");
        plot.XLabel("epoch");
        plot.YLabel("loss (mean cross-entropy, log scale)");
        plot.Axes.Left.TickGenerator = LogTicks(runs);

        // Outside the data area: with several runs any corner of the plot may hold a curve.
        plot.ShowLegend(Edge.Right);

        // Integer epochs only: fractional ticks would suggest measurements that do not exist.
        var maxEpoch = runs.Max(r => r.Epochs.Count == 0 ? 1 : r.Epochs[^1].Epoch);
        var minEpoch = runs.Where(r => r.Epochs.Count > 0).Min(r => r.Epochs[0].Epoch);
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var step = Math.Max(1, (int)Math.Ceiling((maxEpoch - minEpoch + 1) / 12.0));
        for (var e = minEpoch; e <= maxEpoch; e += step)
        {
            ticks.AddMajor(e, e.ToString(CultureInfo.InvariantCulture));
        }

        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.SetLimitsX(minEpoch - 0.25, maxEpoch + 0.25);

        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        plot.SavePng(path, width, height);
    }

    // A 1-2-5 sequence per decade: a log axis with only powers of ten would often show a single labelled tick.
    private static ScottPlot.TickGenerators.NumericManual LogTicks(IReadOnlyList<TrainingReport> runs)
    {
        var values = runs.SelectMany(r => r.Epochs).SelectMany(e => new[] { e.TrainLoss, e.TestLoss })
            .Where(v => double.IsFinite(v) && v > 0).DefaultIfEmpty(1).ToArray();
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var decade = (int)Math.Floor(Math.Log10(values.Min())); decade <= (int)Math.Ceiling(Math.Log10(values.Max())); decade++)
        {
            foreach (var mantissa in new[] { 1.0, 2.0, 5.0 })
            {
                var value = mantissa * Math.Pow(10, decade);
                ticks.AddMajor(Math.Log10(value), value.ToString("G3", CultureInfo.InvariantCulture));
            }
        }

        return ticks;
    }

    private static void AddLine(Plot plot, double[] xs, double[] ys, Color color, string label, LinePattern pattern, MarkerShape marker)
    {
        // A diverged run's NaN/∞ losses would wreck the automatic axis limits; leave those points out.
        // Losses are drawn on a log axis (the last epochs differ by factors, not by hundredths), so the
        // points are stored as log10 and the axis labels undo it; non-positive values cannot be drawn there.
        var keep = Enumerable.Range(0, xs.Length).Where(k => double.IsFinite(ys[k]) && ys[k] > 0).ToArray();
        if (keep.Length == 0)
        {
            return;
        }

        var scatter = plot.Add.Scatter(keep.Select(k => xs[k]).ToArray(), keep.Select(k => Math.Log10(ys[k])).ToArray());
        scatter.Color = color;
        scatter.LineWidth = 2;
        scatter.LinePattern = pattern;
        scatter.MarkerShape = marker;
        scatter.MarkerSize = 7;
        scatter.LegendText = label;
    }
}
