namespace ShampooMkl.Optim;

/// <summary>Settings of the <see cref="AdamW"/> baseline (PyTorch's names and defaults), immutable and validated.</summary>
public sealed record AdamWOptions : IElementwiseOptions
{
    /// <summary>PyTorch's defaults.</summary>
    public static AdamWOptions Default { get; } = new();

    /// <summary>Base learning rate η (before <see cref="Schedule"/>); default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Multiplier on <see cref="LearningRate"/> per step; default constant.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>First-moment EMA β₁ in [0, 1); default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Second-moment EMA β₂ in [0, 1); default 0.999.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>ε &gt; 0 added to √v̂; default 1e-8.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Decoupled weight decay λ ≥ 0 (W ← W − ηλW); default 0.01 (PyTorch's AdamW).</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Throws with a clear message naming the first invalid property.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of its documented range.</exception>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and ≥ 0.");
        }

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        Schedule.Validate();
        if (!(Beta1 >= 0 && Beta1 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "β₁ must be in [0, 1).");
        }

        if (!(Beta2 >= 0 && Beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β₂ must be in [0, 1).");
        }

        if (!(Epsilon > 0) || double.IsInfinity(Epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be finite and > 0.");
        }

        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be finite and ≥ 0.");
        }
    }
}
