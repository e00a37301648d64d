namespace TorchSharpQuickstart;

/// <summary>What <see cref="Quickstart.Run"/> measured.</summary>
/// <param name="FirstLoss">Loss of the first step.</param>
/// <param name="LastLoss">Loss of the last step of the uninterrupted run.</param>
/// <param name="TrainingAccuracy">Accuracy of the trained model on the whole synthetic set.</param>
/// <param name="Uninterrupted">The uninterrupted run's final parameters, in <c>parameters()</c> order.</param>
/// <param name="Resumed">The resumed run's final parameters, in the same order.</param>
/// <param name="ResumedEqualsUninterrupted">True when the two are identical bit for bit.</param>
public sealed record QuickstartResult(
    float FirstLoss,
    float LastLoss,
    double TrainingAccuracy,
    IReadOnlyList<float[]> Uninterrupted,
    IReadOnlyList<float[]> Resumed,
    bool ResumedEqualsUninterrupted);
