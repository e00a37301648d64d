namespace ShampooMkl.Optim;

/// <summary>A multiplier on the base learning rate as a function of the step: constant, linear warm-up, then cosine decay.</summary>
/// <remarks>
/// For step t = 1, 2, … (skipped steps do not advance it):
/// <list type="bullet">
/// <item>warm-up, t ≤ W: factor = t / W (so the first step is not taken at full size on empty statistics);</item>
/// <item>after warm-up with <see cref="TotalSteps"/> = T &gt; 0: progress q = min(1, (t − W) / (T − W)) and
/// factor = f + (1 − f)·½(1 + cos πq), f = <see cref="FinalFactor"/>; after T it stays at f;</item>
/// <item>with T = 0 the factor is 1 after warm-up.</item>
/// </list>
/// </remarks>
public sealed record LearningRateSchedule
{
    /// <summary>Factor 1 at every step.</summary>
    public static LearningRateSchedule Constant { get; } = new();

    /// <summary>Linear warm-up over <paramref name="warmupSteps"/>, then constant.</summary>
    public static LearningRateSchedule LinearWarmup(int warmupSteps) => Validated(new() { WarmupSteps = warmupSteps });

    /// <summary>Linear warm-up, then cosine decay to <paramref name="finalFactor"/> of the base rate at <paramref name="totalSteps"/>.</summary>
    public static LearningRateSchedule WarmupCosine(int warmupSteps, long totalSteps, double finalFactor = 0) =>
        Validated(new() { WarmupSteps = warmupSteps, TotalSteps = totalSteps, FinalFactor = finalFactor });

    /// <summary>Warm-up length W in steps; 0 (default) means none.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Step T at which the cosine reaches <see cref="FinalFactor"/>; 0 (default) means no decay.</summary>
    public long TotalSteps { get; init; }

    /// <summary>The factor the cosine decays to, in [0, 1]; default 0.</summary>
    public double FinalFactor { get; init; }

    /// <summary>The multiplier for step <paramref name="step"/> (1-based).</summary>
    public double Factor(long step)
    {
        if (step < 1)
        {
            step = 1;
        }

        if (WarmupSteps > 0 && step <= WarmupSteps)
        {
            return (double)step / WarmupSteps;
        }

        if (TotalSteps <= 0)
        {
            return 1.0;
        }

        var progress = Math.Min(1.0, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        return FinalFactor + ((1.0 - FinalFactor) * 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Throws with a clear message when a value is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative warm-up, a decay that ends before warm-up does, or a final factor outside [0, 1].</exception>
    public void Validate()
    {
        if (WarmupSteps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "The warm-up length must be ≥ 0 steps.");
        }

        if (TotalSteps < 0 || (TotalSteps > 0 && TotalSteps <= WarmupSteps))
        {
            throw new ArgumentOutOfRangeException(nameof(TotalSteps), TotalSteps,
                $"TotalSteps must be 0 (no decay) or larger than the {WarmupSteps} warm-up steps.");
        }

        if (!(FinalFactor >= 0 && FinalFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(FinalFactor), FinalFactor, "The final factor must be in [0, 1].");
        }
    }

    private static LearningRateSchedule Validated(LearningRateSchedule schedule)
    {
        schedule.Validate();
        return schedule;
    }
}
