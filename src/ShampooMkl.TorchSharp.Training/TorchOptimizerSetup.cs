using ShampooMkl.Optim;
using TorchSharp;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>A TorchSharp optimizer built by <see cref="TorchOptimizerPresets"/>, the settings to record in a report, and
/// where to read its statistics (ShampooMkl's optimizers only).</summary>
public sealed class TorchOptimizerSetup : IDisposable
{
    private readonly Func<OptimizerStatistics>? statistics;

    /// <summary>Wraps an optimizer; the setup owns it and disposes it.</summary>
    /// <param name="optimizer">The optimizer over the model's parameters.</param>
    /// <param name="hyperparameters">Its settings as invariant text, keyed by short names (<c>lr</c>, <c>beta2</c>, …).</param>
    /// <param name="statistics">Reads the optimizer's running statistics (skipped steps, refresh time); null for
    /// optimizers that keep none, such as TorchSharp's own.</param>
    public TorchOptimizerSetup(torch.optim.Optimizer optimizer, IReadOnlyDictionary<string, string> hyperparameters, Func<OptimizerStatistics>? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(hyperparameters);
        Optimizer = optimizer;
        Hyperparameters = hyperparameters;
        this.statistics = statistics;
    }

    /// <summary>The optimizer.</summary>
    public torch.optim.Optimizer Optimizer { get; }

    /// <summary>Its settings as invariant text.</summary>
    public IReadOnlyDictionary<string, string> Hyperparameters { get; }

    /// <summary>The optimizer's running statistics, or null when it keeps none (TorchSharp's optimizers).</summary>
    public OptimizerStatistics? Statistics => statistics?.Invoke();

    /// <summary>The learning rate of the first parameter group (what a report records per epoch).</summary>
    public double LearningRate => Optimizer.ParamGroups.First().LearningRate;

    /// <summary>Disposes the optimizer.</summary>
    public void Dispose() => Optimizer.Dispose();
}
