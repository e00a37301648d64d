using System.Globalization;
using ShampooMkl.Analysis.Training;

namespace ShampooMkl.Cli.Reporting;

/// <summary>
/// Training output for logs and pipes: one line when the run starts, a plain progress line at most every
/// <see cref="ProgressInterval"/> during an epoch (never a carriage-return redraw), and one line per completed epoch.
/// </summary>
/// <remarks>
/// Written straight to the writer: log parsers want one line per event, never folded. The clock is injected so tests
/// drive the interval without waiting or measuring real time.
/// </remarks>
internal sealed class PlainTrainingObserver(TextWriter output, string label, TimeProvider clock) : ITrainingObserver
{
    /// <summary>Least time between two progress lines within an epoch.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    private int epochs;
    private int currentEpoch;
    private DateTimeOffset epochStart;
    private DateTimeOffset lastLine;

    /// <inheritdoc />
    public void OnRunStarted(int firstEpoch, int epochs, int stepsPerEpoch)
    {
        this.epochs = epochs;
        output.WriteLine(firstEpoch > epochs
            ? $"{label}: all {epochs} epochs are already in the checkpoint."
            : firstEpoch > 1
                ? $"{label}: resuming at epoch {firstEpoch}/{epochs} ({stepsPerEpoch} steps per epoch)."
                : $"{label}: {epochs} epochs of {stepsPerEpoch} steps.");
        output.Flush();
    }

    /// <inheritdoc />
    public void OnStep(in TrainingProgress progress)
    {
        var now = clock.GetUtcNow();
        if (progress.Epoch != currentEpoch)
        {
            currentEpoch = progress.Epoch;
            epochStart = now;
            lastLine = now;
        }

        // The epoch line follows the last step at once; a progress line just before it would only repeat it.
        if (progress.Step >= progress.StepsPerEpoch || now - lastLine < ProgressInterval)
        {
            return;
        }

        lastLine = now;
        output.WriteLine(ProgressLine(label, progress, now - epochStart));
        output.Flush();
    }

    /// <inheritdoc />
    public void OnEpochCompleted(EpochRecord record)
    {
        output.WriteLine(TrainingConsole.EpochLine(label, record, epochs));
        output.Flush();
    }

    /// <summary>One progress line, e.g. <c>mlp shampoo2 epoch 1/3: step 200/938, loss 0.4120, 9 s</c>.</summary>
    public static string ProgressLine(string label, in TrainingProgress progress, TimeSpan elapsed) => string.Create(
        CultureInfo.InvariantCulture,
        $"{label} epoch {progress.Epoch}/{progress.Epochs}: step {progress.Step:N0}/{progress.StepsPerEpoch:N0}, " +
        $"loss {progress.MeanLoss:0.0000}, {elapsed.TotalSeconds:0} s");
}
