using ShampooMkl.Analysis.Training;

namespace ShampooMkl.Cli.Reporting;

/// <summary>One training run to show on the console: a label and the work, which reports through the observer it is given.</summary>
/// <param name="Label">Shown in the progress bar and the per-epoch lines (e.g. the optimizer name).</param>
/// <param name="Run">Trains and returns the report, passing progress to the observer.</param>
internal sealed record TrainingJob(string Label, Func<ITrainingObserver, TrainingReport> Run);
