using System.Globalization;
using ShampooMkl.Analysis.Training;
using Spectre.Console;

namespace ShampooMkl.Cli.Reporting;

/// <summary>Runs training jobs with a live Spectre.Console progress display, or plain per-epoch lines when that would not render well.</summary>
internal static class TrainingConsole
{
    /// <summary>Runs the jobs in order and returns their reports.</summary>
    public static IReadOnlyList<TrainingReport> Run(IAnsiConsole console, IReadOnlyList<TrainingJob> jobs, bool? live = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(jobs);
        var reports = new List<TrainingReport>(jobs.Count);
        if (!(live ?? ConsoleMode.IsLive(console)))
        {
            foreach (var job in jobs)
            {
                reports.Add(job.Run(new PlainTrainingObserver(console.Profile.Out.Writer, job.Label, TimeProvider.System)));
            }

            return reports;
        }

        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn(),
                new PercentageColumn(),
                new ElapsedTimeColumn(),
                new RemainingTimeColumn())
            .Start(context =>
            {
                // All tasks are listed up front so the user sees what is still to come.
                var tasks = jobs.Select(j => context.AddTask(Markup.Escape(j.Label), autoStart: false, maxValue: 1.0)).ToList();
                for (var i = 0; i < jobs.Count; i++)
                {
                    var task = tasks[i];
                    task.StartTask();
                    var report = jobs[i].Run(new LiveObserver(task, jobs[i].Label));
                    task.Value = task.MaxValue;
                    task.Description = Markup.Escape(Summary(jobs[i].Label, report));
                    task.StopTask();
                    reports.Add(report);
                }
            });
        return reports;
    }

    /// <summary>One line describing an epoch, shared by the plain mode and tests.</summary>
    public static string EpochLine(string label, EpochRecord record, int epochs) => string.Create(
        CultureInfo.InvariantCulture,
        $"{label} epoch {record.Epoch}/{epochs}: train loss {record.TrainLoss:0.0000}, test loss {record.TestLoss:0.0000}, " +
        $"test accuracy {record.TestAccuracy * 100:0.00}%, {record.WallSeconds:0.00} s (optimizer {record.OptimizerSeconds:0.00} s, " +
        $"refresh {record.RefreshSeconds:0.00} s), " +
        $"{record.StepsPerSecond:0.0} steps/s, skipped {record.SkippedSteps}");

    private static string Summary(string label, TrainingReport report) => report.Final is { } last
        ? string.Create(CultureInfo.InvariantCulture,
            $"{label} done: test acc {last.TestAccuracy * 100:0.00}%")
        : $"{label} done";

    private sealed class LiveObserver(ProgressTask task, string label) : ITrainingObserver
    {
        private int firstEpoch = 1;
        private long lastUpdate;

        public void OnRunStarted(int firstEpoch, int epochs, int stepsPerEpoch) => this.firstEpoch = firstEpoch;

        public void OnStep(in TrainingProgress p)
        {
            // The bar redraws ~10 times a second; formatting a description for each of hundreds of steps per second is waste.
            var now = Environment.TickCount64;
            if (p.Step != p.StepsPerEpoch && now - lastUpdate < 100)
            {
                return;
            }

            lastUpdate = now;
            // A resumed run counts only the epochs it trains, so the bar and the time estimate stay honest.
            var done = (double)(p.Epoch - firstEpoch) * p.StepsPerEpoch + p.Step;
            var total = (double)(p.Epochs - firstEpoch + 1) * p.StepsPerEpoch;
            task.Value = total > 0 ? done / total : 1.0;
            var accuracy = p.LastTestAccuracy is { } a ? string.Create(CultureInfo.InvariantCulture, $"{a * 100:0.0}%") : "–";
            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"{label} {p.Epoch}/{p.Epochs} loss {p.MeanLoss:0.000} acc {accuracy} {p.StepsPerSecond:0} st/s"));
        }
    }
}
