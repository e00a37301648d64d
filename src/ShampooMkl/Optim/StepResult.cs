namespace ShampooMkl.Optim;

/// <summary>What one call to <see cref="IOptimizer.Step"/> did.</summary>
/// <param name="Applied">False when the step was skipped (non-finite gradient).</param>
/// <param name="RefreshedRoots">Whether preconditioner roots were recomputed in this step.</param>
/// <param name="Message">Why the step was skipped, or a root failure that was recovered from; null when all is well.</param>
public readonly record struct StepResult(bool Applied, bool RefreshedRoots, string? Message);
