using System.Numerics;
using System.Diagnostics;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>The common part of the element-wise baselines (<see cref="AdamW"/>, <see cref="Sgd"/>): parameter groups, gradient checks, step counting, schedule and checkpoint plumbing.</summary>
/// <remarks>
/// A step checks every gradient first (wrong length throws, NaN/±∞ skips the whole step with the state unchanged), then
/// calls the derived optimizer once per parameter with η = η₀·<c>Schedule.Factor(t)</c>, η₀ the group's base rate
/// (its options' <c>LearningRate</c> until <see cref="SetLearningRate"/>) and the decay
/// factor 1 − ηλ. The exported state is <c>step</c>, <c>learningRates</c> (every group's base rate), then per parameter <c>{name}/value</c> followed by the derived
/// optimizer's own tensors. Only this assembly derives from it.
/// </remarks>
/// <typeparam name="TOptions">The options record of the derived optimizer.</typeparam>
public abstract class ElementwiseOptimizer<TOptions> : ICheckpointable
    where TOptions : class, IElementwiseOptions
{
    private string[]? signature;

    private protected ElementwiseOptimizer(IReadOnlyList<ParameterGroup<TOptions>> groups, TOptions defaults)
    {
        Registry = new ParameterRegistry<TOptions>(groups, defaults, o => o.Validate(), o => o.LearningRate, o => o.Schedule);
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
    public StepResult Step()
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
        Registry.BeginStep();
        try
        {
            UpdateAll(step);
        }
        finally
        {
            Registry.EndStep();
        }

        StepCount = step;
        Statistics.StepTime += Stopwatch.GetElapsedTime(started);
        return new StepResult(true, false, null);
    }

    private void UpdateAll(long step)
    {
        for (var i = 0; i < Registry.Count; i++)
        {
            var o = Registry.OptionsOf(i);
            var lr = Registry.StepRateOf(i);
            var decay = 1.0 - (lr * o.WeightDecay);
            var p = Registry.Parameters[i];
            if (p.ElementType == ParameterPrecision.Single)
            {
                Update<float>(i, o, step, lr, decay, p.GetValues<float>(), p.GetGradient<float>());
            }
            else
            {
                Update<double>(i, o, step, lr, decay, p.GetValues<double>(), p.GetGradient<double>());
            }
        }
    }

    /// <inheritdoc />
    public string DescribeOptions() => Registry.DescribeOptions();

    /// <inheritdoc />
    public IReadOnlyList<StateTensor> ExportState()
    {
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
        }

        Registry.ImportLearningRates(state);
        StepCount = step;
    }

    /// <summary>Nothing to free (managed state only).</summary>
    public void Dispose()
    {
        GC.SuppressFinalize(this);
    }

    /// <summary>Updates parameter <paramref name="index"/> in place: W ← W·<paramref name="decay"/> − <paramref name="learningRate"/>·u.</summary>
    /// <remarks><typeparamref name="TW"/> is the parameter's element type; the arithmetic runs in fp64 either way.</remarks>
    private protected abstract void Update<TW>(int index, TOptions options, long step, double learningRate, double decay,
        Span<TW> value, ReadOnlySpan<TW> gradient) where TW : unmanaged, IFloatingPointIeee754<TW>;

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
