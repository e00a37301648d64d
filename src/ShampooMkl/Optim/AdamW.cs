using System.Diagnostics;
using System.Globalization;
using System.Text;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>AdamW (Loshchilov &amp; Hutter), the baseline Shampoo must beat, with the same parameter-group, step and checkpoint API.</summary>
/// <remarks>
/// At step t with η = <c>LearningRate</c>·<c>Schedule.Factor(t)</c>, elementwise in fp64:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), W ← W·(1 − ηλ) − η·m̂/(√v̂ + ε),
/// W rounded to fp32 once. Gradients are checked as in <see cref="Shampoo"/> (wrong length throws, NaN/±∞ skips the step).
/// The moments are fp64 arrays allocated once; a step allocates nothing.
/// </remarks>
public sealed class AdamW : ICheckpointable
{
    /// <summary>The value of <see cref="CheckpointKind"/>.</summary>
    public const string Kind = "AdamW";

    private readonly ParameterRegistry<AdamWOptions> registry;
    private readonly double[][] first;
    private readonly double[][] second;
    private readonly string[] signature;

    /// <summary>AdamW over <paramref name="parameters"/>, all with the same options (null: <see cref="AdamWOptions.Default"/>).</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public AdamW(IReadOnlyList<Parameter> parameters, AdamWOptions? options = null)
        : this([new ParameterGroup<AdamWOptions>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], options)
    {
    }

    /// <summary>AdamW over parameter groups, each with its own options or <paramref name="defaults"/>.</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public AdamW(IReadOnlyList<ParameterGroup<AdamWOptions>> groups, AdamWOptions? defaults = null)
    {
        registry = new ParameterRegistry<AdamWOptions>(groups, defaults ?? AdamWOptions.Default, o => o.Validate());
        first = registry.Parameters.Select(p => new double[p.Length]).ToArray();
        second = registry.Parameters.Select(p => new double[p.Length]).ToArray();
        signature = Enumerable.Range(0, registry.Count).Select(i => $"{registry.Describe(i)}: moments").ToArray();
    }

    /// <inheritdoc />
    public IReadOnlyList<Parameter> Parameters => registry.Parameters;

    /// <inheritdoc />
    public long StepCount { get; private set; }

    /// <summary>The learning rate of the next step for parameters with the default options.</summary>
    public double CurrentLearningRate => registry.Defaults.LearningRate * registry.Defaults.Schedule.Factor(StepCount + 1);

    /// <inheritdoc />
    public OptimizerStatistics Statistics { get; } = new();

    /// <summary>The default options.</summary>
    public AdamWOptions Options => registry.Defaults;

    /// <inheritdoc />
    public string CheckpointKind => Kind;

    /// <inheritdoc />
    public IReadOnlyList<string> CheckpointSignature => signature;

    /// <inheritdoc />
    public StepResult Step()
    {
        var started = Stopwatch.GetTimestamp();
        var step = StepCount + 1;
        var bad = registry.CheckGradients();
        if (bad >= 0)
        {
            Statistics.SkippedSteps++;
            return new StepResult(false, false, registry.SkipMessage(bad, step));
        }

        for (var i = 0; i < registry.Count; i++)
        {
            var o = registry.OptionsOf(i);
            var lr = o.LearningRate * o.Schedule.Factor(step);
            var c1 = 1.0 - Math.Pow(o.Beta1, step);
            var c2 = 1.0 - Math.Pow(o.Beta2, step);
            var decay = 1.0 - (lr * o.WeightDecay);
            var g = registry.Parameters[i].Gradient.AsSpan();
            var w = registry.Parameters[i].Value.AsSpan();
            var m = first[i].AsSpan();
            var v = second[i].AsSpan();
            for (var j = 0; j < w.Length; j++)
            {
                double gj = g[j];
                m[j] = (o.Beta1 * m[j]) + ((1.0 - o.Beta1) * gj);
                v[j] = (o.Beta2 * v[j]) + ((1.0 - o.Beta2) * gj * gj);
                var update = (m[j] / c1) / (Math.Sqrt(v[j] / c2) + o.Epsilon);
                w[j] = (float)((w[j] * decay) - (lr * update));
            }
        }

        StepCount = step;
        Statistics.StepTime += Stopwatch.GetElapsedTime(started);
        return new StepResult(true, false, null);
    }

    /// <inheritdoc />
    public string DescribeOptions()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"defaults: {registry.Defaults}");
        for (var g = 0; g < registry.GroupOptions.Count; g++)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"group {g}: {registry.GroupOptions[g]}");
        }

        return text.ToString();
    }

    /// <inheritdoc />
    /// <remarks>Names: <c>step</c>, and per parameter <c>{name}/value</c>, <c>{name}/m</c>, <c>{name}/v</c>.</remarks>
    public IReadOnlyList<StateTensor> ExportState()
    {
        var all = new List<StateTensor> { StateTensor.Scalar(StateTransfer.StepName, StepCount) };
        for (var i = 0; i < registry.Count; i++)
        {
            var p = registry.Parameters[i];
            all.Add(StateTensor.From<float>(p.Name + "/value", p.Value, [.. p.Shape]));
            all.Add(StateTensor.From<double>(p.Name + "/m", first[i], p.Length));
            all.Add(StateTensor.From<double>(p.Name + "/v", second[i], p.Length));
        }

        return all;
    }

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        StateTransfer.CheckSameStructure(ExportState(), state);
        var step = StateTransfer.Counter(state, StateTransfer.StepName);
        foreach (var p in registry.Parameters)
        {
            if (StateTransfer.Find(state, p.Name + "/v").Data.Any(x => x < 0))
            {
                throw new InvalidDataException($"State tensor '{p.Name}/v' holds negative second moments.");
            }
        }

        for (var i = 0; i < registry.Count; i++)
        {
            var p = registry.Parameters[i];
            Precision.Convert<double, float>(StateTransfer.Find(state, p.Name + "/value").Data, p.Value);
            StateTransfer.Find(state, p.Name + "/m").Data.CopyTo(first[i], 0);
            StateTransfer.Find(state, p.Name + "/v").Data.CopyTo(second[i], 0);
        }

        StepCount = step;
    }

    /// <summary>Nothing to free (managed state only).</summary>
    public void Dispose()
    {
    }
}
