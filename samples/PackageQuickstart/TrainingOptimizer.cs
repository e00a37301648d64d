using ShampooMkl.Optim;

namespace PackageQuickstart;

/// <summary>What the training loop needs of an optimizer, for <see cref="Shampoo"/> and <see cref="AdamW"/> alike.</summary>
internal sealed record TrainingOptimizer(
    string Name,
    int GroupCount,
    Func<StepResult> Step,
    Func<int, double> GetLearningRate,
    Action<int, double> SetLearningRate,
    Func<int, double> GetCurrentLearningRate)
{
    public static TrainingOptimizer Of(Shampoo o) =>
        new("Shampoo²", o.GroupCount, o.Step, o.GetLearningRate, o.SetLearningRate, o.GetCurrentLearningRate);

    public static TrainingOptimizer Of(AdamW o) =>
        new("AdamW", o.GroupCount, o.Step, o.GetLearningRate, o.SetLearningRate, o.GetCurrentLearningRate);
}
