namespace ShampooMkl.Optim;

/// <summary>The options every <see cref="ElementwiseOptimizer{TOptions}"/> shares: learning rate, schedule, decoupled weight decay.</summary>
public interface IElementwiseOptions
{
    /// <summary>Base learning rate η (before <see cref="Schedule"/>).</summary>
    double LearningRate { get; }

    /// <summary>Multiplier on <see cref="LearningRate"/> per step.</summary>
    LearningRateSchedule Schedule { get; }

    /// <summary>Decoupled weight decay λ ≥ 0 (W ← W − ηλW).</summary>
    double WeightDecay { get; }

    /// <summary>Throws with a clear message naming the first invalid property.</summary>
    /// <exception cref="ArgumentException">A value out of its documented range.</exception>
    void Validate();
}
