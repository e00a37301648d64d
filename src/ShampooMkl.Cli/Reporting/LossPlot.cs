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
            var label = runs.Count > 1 ? run.Optimizer : $"{run.Optimizer} ({run.Model})";
            AddLine(plot, epochs, run.Epochs.Select(e => e.TrainLoss).ToArray(), color, $"{label} train", LinePattern.Solid, MarkerShape.FilledCircle);
            AddLine(plot, epochs, run.Epochs.Select(e => e.TestLoss).ToArray(), color, $"{label} test", LinePattern.Dashed, MarkerShape.OpenCircle);
        }

        var model = runs.Select(r => r.Model).Distinct().Count() == 1 ? runs[0].Model : "several models";
        plot.Title(title ?? $"MNIST {model}: cross-entropy per epoch");
        plot.XLabel("epoch");
        plot.YLabel("loss (mean cross-entropy)");
        plot.ShowLegend(Alignment.UpperRight);

        // Integer epochs only: fractional ticks would suggest measurements that do not exist.
        var maxEpoch = runs.Max(r => r.Epochs.Count == 0 ? 1 : r.Epochs[^1].Epoch);
        var minEpoch = runs.Where(r => r.Epochs.Count > 0).Min(r => r.Epochs[0].Epoch);
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var step = Math.Max(1, (int)Math.Ceiling((maxEpoch - minEpoch + 1) / 12.0));
        for (var e = minEpoch; e <= maxEpoch; e += step)
        {
            ticks.AddMajor(e, e.ToString(System.Globalization.CultureInfo.InvariantCulture));
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

    private static void AddLine(Plot plot, double[] xs, double[] ys, Color color, string label, LinePattern pattern, MarkerShape marker)
    {
        // A diverged run's NaN/∞ losses would wreck the automatic axis limits; leave those points out.
        var keep = Enumerable.Range(0, xs.Length).Where(k => double.IsFinite(ys[k])).ToArray();
        if (keep.Length == 0)
        {
            return;
        }

        var scatter = plot.Add.Scatter(keep.Select(k => xs[k]).ToArray(), keep.Select(k => ys[k]).ToArray());
        scatter.Color = color;
        scatter.LineWidth = 2;
        scatter.LinePattern = pattern;
        scatter.MarkerShape = marker;
        scatter.MarkerSize = 7;
        scatter.LegendText = label;
    }
}
