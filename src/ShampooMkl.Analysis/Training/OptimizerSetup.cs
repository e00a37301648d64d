using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>An optimizer built by <see cref="OptimizerPresets"/> and the settings to record in a report.</summary>
/// <param name="Optimizer">The optimizer, owned by the caller (dispose it).</param>
/// <param name="Hyperparameters">Its settings as invariant text, keyed by short names (<c>lr</c>, <c>beta2</c>, …).</param>
public sealed record OptimizerSetup(IOptimizer Optimizer, IReadOnlyDictionary<string, string> Hyperparameters);
