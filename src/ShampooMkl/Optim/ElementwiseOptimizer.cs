using System.Numerics;
using System.Diagnostics;
using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>The common part of the element-wise baselines (<see cref="AdamW"/>, <see cref="Sgd"/>): parameter groups, gradient checks, step counting, schedule and checkpoint plumbing.</summary>
/// <remarks>
/// A step checks every gradient first (wrong length throws, NaN/±∞ skips the whole step with the state unchanged), then
/// computes every parameter's update without writing it and skips the step the same way if any new value or state
/// would be NaN or ±∞ (e.g. a learning rate or weight decay near the floating-point range), then
/// calls the derived optimizer once per parameter with η = η₀·<c>Schedule.Factor(t)</c>, η₀ the group's base rate
/// (its options' <c>LearningRate</c> until <see cref="SetLearningRate"/>) and the decay
/// factor 1 − ηλ. The exported state is <c>step</c>, <c>learningRates</c> (every group's base rate), then per parameter <c>{name}/value</c> followed by the derived
/// optimizer's own tensors. Only this assembly derives from it.
/// </remarks>
/// <typeparam name="TOptions">The options record of the derived optimizer.</typeparam>
public abstract class ElementwiseOptimizer<TOptions> : ICheckpointable, IExclusiveOptimizer
    where TOptions : class, IElementwiseOptions
{
    private readonly ExclusiveUse exclusive;
    private string[]? signature;

    private protected ElementwiseOptimizer(IReadOnlyList<ParameterGroup<TOptions>> groups, TOptions defaults)
    {
        Registry = new ParameterRegistry<TOptions>(groups, defaults, o => o.Validate(), o => o.LearningRate, o => o.Schedule);
        exclusive = new ExclusiveUse(GetType().Name);
    }

    /// <inheritdoc />
    public IReadOnlyList<Parameter> Parameters => Registry.Parameters;

    /// <inheritdoc />
    public long StepCount { get; private set; }

    /// <inheritdoc />
    public double CurrentLearningRate => GetCurrentLearningRate(0);

    /// <inheritdoc />
    public double GetCurrentLearningRate(int group) => Registry.RateAt(group, StepCount + 1);

    /// <inheritdoc />
    public int GroupCount => Registry.GroupCount;

    /// <inheritdoc />
    public double GetLearningRate(int group) => Registry.GetLearningRate(group);

    /// <inheritdoc />
    public void SetLearningRate(int group, double learningRate) => Registry.SetLearningRate(group, learningRate);

    /// <inheritdoc />
    public OptimizerStatistics Statistics { get; } = new();

    /// <summary>The default options.</summary>
    public TOptions Options => Registry.Defaults;

    /// <inheritdoc />
    public abstract string CheckpointKind { get; }

    /// <inheritdoc />
    public IReadOnlyList<string> CheckpointSignature =>
        signature ??= Enumerable.Range(0, Registry.Count).Select(i => $"{Registry.Describe(i)}: {DescribeState(i)}").ToArray();

    private protected ParameterRegistry<TOptions> Registry { get; }

    /// <inheritdoc />
    ExclusiveUse IExclusiveOptimizer.Exclusive => exclusive;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">Another call (a step, a checkpoint export/import/save/load, a
    /// dispose) is running on another thread; nothing changes.</exception>
    public StepResult Step()
    {
        using var use = exclusive.Enter("Step", isStep: true);
        Registry.BeginStep(); // refuses SetLearningRate until the step ends
        try
        {
            return StepExclusive();
        }
        finally
        {
            Registry.EndStep();
        }
    }

    private StepResult StepExclusive()
    {
        var started = Stopwatch.GetTimestamp();
        var step = StepCount + 1;
        var bad = Registry.CheckGradients();
        if (bad >= 0)
        {
            Statistics.SkippedSteps++;
            return new StepResult(false, false, Registry.SkipMessage(bad, step));
        }

        Registry.PrepareRates(step);
        // All or nothing. Normal steps are certified finite by bounds that need no write; otherwise every parameter's
        // update is computed once without writing and checked before any is written (the same arithmetic both times,
        // so the written values are the checked ones).
        var certified = true;
        for (var i = 0; i < Registry.Count && certified; i++)
        {
            certified = IsCertified(i, step);
        }

        for (var i = 0; i < Registry.Count && !certified; i++)
        {
            if (!Apply(i, step, write: false))
            {
                Statistics.SkippedSteps++;
                return new StepResult(false, false,
                    $"Step {step} not applied: its update would have made parameter '{Registry.Parameters[i].Name}' or its state NaN or infinite (check the learning rate and weight decay); no state was changed.");
            }
        }

        for (var i = 0; i < Registry.Count; i++)
        {
            Apply(i, step, write: true);
            if (certified)
            {
                AdvanceBounds(i);
            }
            else
            {
                MeasureBounds(i);
            }
        }

        StepCount = step;
        Statistics.StepTime += Stopwatch.GetElapsedTime(started);
        return new StepResult(true, false, null);
    }

    /// <summary>Whether bounds prove that parameter <paramref name="index"/>'s update at <paramref name="step"/> leaves
    /// its values and state finite: |W'| ≤ |W|·|1 − ηλ| + η·(bound of |u|), with max |W| read once.</summary>
    private bool IsCertified(int index, long step)
    {
        var o = Registry.OptionsOf(index);
        var lr = Registry.StepRateOf(index);
        var decay = Math.Abs(1.0 - (lr * o.WeightDecay));
        var u = UpdateBound(index, o, step, Registry.GradientMagnitudes[index]);
        var p = Registry.Parameters[index];
        var single = p.ElementType == ParameterPrecision.Single;
        var values = single ? FiniteCheck.MaxMagnitude<float>(p.GetValues<float>()) : FiniteCheck.MaxMagnitude<double>(p.GetValues<double>());
        var limit = Math.ScaleB(single ? float.MaxValue : double.MaxValue, -16);
        return (values * decay) + (lr * u) <= limit;
    }

    /// <summary>An upper bound of |u| for parameter <paramref name="index"/>'s step given max |g| =
    /// <paramref name="gradientMagnitude"/>, from running bounds of its state (+∞ when the state's own bounds would
    /// leave fp64's range); the state bounds it implies are kept for <see cref="AdvanceBounds"/>.</summary>
    private protected abstract double UpdateBound(int index, TOptions options, long step, double gradientMagnitude);

    /// <summary>After a certified step: the running state bounds become the ones <see cref="UpdateBound"/> computed.</summary>
    private protected abstract void AdvanceBounds(int index);

    /// <summary>Measures the running state bounds exactly (after a checked step or an import).</summary>
    private protected abstract void MeasureBounds(int index);

    /// <summary>Computes parameter <paramref name="index"/>'s update; writes it only when <paramref name="write"/>;
    /// returns whether every new value and state is finite.</summary>
    private bool Apply(int index, long step, bool write)
    {
        var o = Registry.OptionsOf(index);
        var lr = Registry.StepRateOf(index);
        var decay = 1.0 - (lr * o.WeightDecay);
        var p = Registry.Parameters[index];
        return p.ElementType == ParameterPrecision.Single
            ? Update<float>(index, o, step, lr, decay, p.GetValues<float>(), p.GetGradient<float>(), write)
            : Update<double>(index, o, step, lr, decay, p.GetValues<double>(), p.GetGradient<double>(), write);
    }

    /// <inheritdoc />
    public string DescribeOptions() => Registry.DescribeOptions();

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">A step (or an import) is running on another thread.</exception>
    public IReadOnlyList<StateTensor> ExportState()
    {
        using var use = exclusive.Enter("ExportState");
        var all = new List<StateTensor> { StateTensor.Scalar(StateTransfer.StepName, StepCount), Registry.ExportLearningRates() };
        for (var i = 0; i < Registry.Count; i++)
        {
            var p = Registry.Parameters[i];
            all.Add(p.ElementType == ParameterPrecision.Single
                ? StateTensor.From<float>(p.Name + "/value", p.GetValues<float>(), [.. p.Shape])
                : StateTensor.From<double>(p.Name + "/value", p.GetValues<double>(), [.. p.Shape]));
            ExportParameterState(i, all);
        }

        return all;
    }

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        using var use = exclusive.Enter("ImportState");
        StateTransfer.CheckSameStructure(ExportState(), state);
        var step = StateTransfer.Counter(state, StateTransfer.StepName);
        Registry.CheckImportedLearningRates(state);
        CheckImportedState(state);
        for (var i = 0; i < Registry.Count; i++)
        {
            var p = Registry.Parameters[i];
            var saved = StateTransfer.Find(state, p.Name + "/value").Data;
            if (p.ElementType == ParameterPrecision.Single)
            {
                Precision.Convert<double, float>(saved, p.GetValues<float>());
            }
            else
            {
                Precision.Convert<double, double>(saved, p.GetValues<double>());
            }
            ImportParameterState(i, state);
            MeasureBounds(i);
        }

        Registry.ImportLearningRates(state);
        StepCount = step;
    }

    /// <summary>Nothing to free (managed state only).</summary>
    /// <exception cref="InvalidOperationException">A step or a checkpoint call is running on another thread.</exception>
    public void Dispose()
    {
        using var use = exclusive.Enter("Dispose");
        GC.SuppressFinalize(this);
    }

    /// <summary>Computes parameter <paramref name="index"/>'s update W ← W·<paramref name="decay"/> −
    /// <paramref name="learningRate"/>·u and, when <paramref name="write"/>, stores it and the new state in place;
    /// returns whether every new value (rounded to <typeparamref name="TW"/>) and state element is finite.</summary>
    /// <remarks><typeparamref name="TW"/> is the parameter's element type; the arithmetic runs in fp64 either way.</remarks>
    private protected abstract bool Update<TW>(int index, TOptions options, long step, double learningRate, double decay,
        Span<TW> value, ReadOnlySpan<TW> gradient, bool write) where TW : unmanaged, IFloatingPointIeee754<TW>;

    /// <summary>What gives parameter <paramref name="index"/>'s state its meaning, for <see cref="CheckpointSignature"/>.</summary>
    private protected abstract string DescribeState(int index);

    /// <summary>Appends parameter <paramref name="index"/>'s own state tensors (after its value).</summary>
    private protected abstract void ExportParameterState(int index, List<StateTensor> into);

    /// <summary>Throws <see cref="InvalidDataException"/> for invalid values in a state whose structure matches; runs before anything changes.</summary>
    private protected virtual void CheckImportedState(IReadOnlyList<StateTensor> state)
    {
    }

    /// <summary>Copies parameter <paramref name="index"/>'s own state tensors from a checked state.</summary>
    private protected abstract void ImportParameterState(int index, IReadOnlyList<StateTensor> state);
}
