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
/// <para>Or any function of the step: <see cref="FromFunction"/>. Like every schedule it is an option, not state: a
/// checkpoint stores the step count and each group's base rate, not the schedule, so a resumed run continues bit-exactly
/// when the new optimizer is given the same schedule (for a function: one whose factor depends on the step only).</para>
/// </remarks>
public sealed record LearningRateSchedule
{
    private Func<long, double>? function;

    /// <summary>Factor 1 at every step.</summary>
    public static LearningRateSchedule Constant { get; } = new();

    /// <summary>Linear warm-up over <paramref name="warmupSteps"/>, then constant.</summary>
    public static LearningRateSchedule LinearWarmup(int warmupSteps) => Validated(new() { WarmupSteps = warmupSteps });

    /// <summary>Linear warm-up, then cosine decay to <paramref name="finalFactor"/> of the base rate at <paramref name="totalSteps"/>.</summary>
    public static LearningRateSchedule WarmupCosine(int warmupSteps, long totalSteps, double finalFactor = 0) =>
        Validated(new() { WarmupSteps = warmupSteps, TotalSteps = totalSteps, FinalFactor = finalFactor });

    /// <summary>A user schedule: the factor of step t (1-based; skipped steps do not advance t) is <paramref name="factor"/>(t),
    /// as PyTorch's <c>LambdaLR</c>. The function is called once per group at the start of every step, before any state
    /// changes; a factor that is NaN, infinite or negative (or an exception) refuses that step with
    /// <see cref="InvalidOperationException"/>, leaving everything unchanged. Make it depend on the step alone (not on
    /// calls or time) so that a checkpoint resumed with the same function continues bit-exactly.</summary>
    /// <param name="factor">The multiplier on the base learning rate for step t, finite and ≥ 0.</param>
    /// <exception cref="ArgumentNullException"><paramref name="factor"/> is null.</exception>
    public static LearningRateSchedule FromFunction(Func<long, double> factor)
    {
        ArgumentNullException.ThrowIfNull(factor);
        return new() { function = factor };
    }

    /// <summary>Whether this schedule is a user function (<see cref="FromFunction"/>) rather than warm-up and cosine.</summary>
    public bool IsFunction => function is not null;

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

        if (function is not null)
        {
            return function(step);
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
    /// <exception cref="ArgumentException">A <see cref="FromFunction"/> schedule that also sets warm-up or decay (they would be ignored).</exception>
    public void Validate()
    {
        if (function is not null && (WarmupSteps != 0 || TotalSteps != 0 || FinalFactor != 0))
        {
            throw new ArgumentException("A FromFunction schedule takes its factor from the function alone; do not also set WarmupSteps, TotalSteps or FinalFactor (put the warm-up in the function).", nameof(WarmupSteps));
        }

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
