namespace ShampooMkl.Optim;

/// <summary>Settings of the <see cref="Sgd"/> baseline, immutable and validated.</summary>
public sealed record SgdOptions : IElementwiseOptions
{
    /// <summary>The defaults.</summary>
    public static SgdOptions Default { get; } = new();

    /// <summary>Base learning rate η (before <see cref="Schedule"/>); default 0.01.</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>Multiplier on <see cref="LearningRate"/> per step; default constant.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Heavy-ball momentum μ in [0, 1): b ← μb + g (PyTorch's form, no dampening); 0 disables it. Default 0.9.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Nesterov: step along g + μb instead of b; needs <see cref="Momentum"/> &gt; 0. Default false.</summary>
    public bool Nesterov { get; init; }

    /// <summary>Decoupled weight decay λ ≥ 0 (W ← W − ηλW, as in the other optimizers here, not PyTorch's L2 term). Default 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Throws with a clear message naming the first invalid property.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of its documented range.</exception>
    /// <exception cref="ArgumentException">Nesterov without momentum.</exception>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and ≥ 0.");
        }

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        Schedule.Validate();
        if (!(Momentum >= 0 && Momentum < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        }

        if (Nesterov && Momentum == 0)
        {
            throw new ArgumentException("Nesterov momentum needs Momentum > 0.", nameof(Nesterov));
        }

        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be finite and ≥ 0.");
        }
    }
}
