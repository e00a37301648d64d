using System.Diagnostics;
using System.Globalization;
using System.Text;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Stochastic gradient descent with heavy-ball or Nesterov momentum and decoupled weight decay: the simplest baseline.</summary>
/// <remarks>
/// At step t with η = <c>LearningRate</c>·<c>Schedule.Factor(t)</c>, elementwise in fp64: b ← μb + g (PyTorch's form);
/// u = g + μb with Nesterov, else b (u = g when μ = 0); W ← W·(1 − ηλ) − η·u, rounded to fp32 once.
/// Gradients are checked as in <see cref="Shampoo"/>. A step allocates nothing.
/// </remarks>
public sealed class Sgd : ICheckpointable
{
    /// <summary>The value of <see cref="CheckpointKind"/>.</summary>
    public const string Kind = "Sgd";

    private readonly ParameterRegistry<SgdOptions> registry;
    private readonly double[]?[] buffers;
    private readonly string[] signature;

    /// <summary>SGD over <paramref name="parameters"/>, all with the same options (null: <see cref="SgdOptions.Default"/>).</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public Sgd(IReadOnlyList<Parameter> parameters, SgdOptions? options = null)
        : this([new ParameterGroup<SgdOptions>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], options)
    {
    }

    /// <summary>SGD over parameter groups, each with its own options or <paramref name="defaults"/>.</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public Sgd(IReadOnlyList<ParameterGroup<SgdOptions>> groups, SgdOptions? defaults = null)
    {
        registry = new ParameterRegistry<SgdOptions>(groups, defaults ?? SgdOptions.Default, o => o.Validate());
        buffers = Enumerable.Range(0, registry.Count)
            .Select(i => registry.OptionsOf(i).Momentum > 0 ? new double[registry.Parameters[i].Length] : null).ToArray();
        signature = Enumerable.Range(0, registry.Count)
            .Select(i => $"{registry.Describe(i)}: momentum={registry.OptionsOf(i).Momentum > 0}").ToArray();
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
    public SgdOptions Options => registry.Defaults;

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
            var decay = 1.0 - (lr * o.WeightDecay);
            var g = registry.Parameters[i].Gradient.AsSpan();
            var w = registry.Parameters[i].Value.AsSpan();
            var b = buffers[i];
            for (var j = 0; j < w.Length; j++)
            {
                double u = g[j];
                if (b is not null)
                {
                    b[j] = (o.Momentum * b[j]) + u;
                    u = o.Nesterov ? u + (o.Momentum * b[j]) : b[j];
                }

                w[j] = (float)((w[j] * decay) - (lr * u));
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
    /// <remarks>Names: <c>step</c>, and per parameter <c>{name}/value</c> and, with momentum, <c>{name}/momentum</c>.</remarks>
    public IReadOnlyList<StateTensor> ExportState()
    {
        var all = new List<StateTensor> { StateTensor.Scalar(StateTransfer.StepName, StepCount) };
        for (var i = 0; i < registry.Count; i++)
        {
            var p = registry.Parameters[i];
            all.Add(StateTensor.From<float>(p.Name + "/value", p.Value, [.. p.Shape]));
            if (buffers[i] is { } b)
            {
                all.Add(StateTensor.From<double>(p.Name + "/momentum", b, p.Length));
            }
        }

        return all;
    }

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        StateTransfer.CheckSameStructure(ExportState(), state);
        var step = StateTransfer.Counter(state, StateTransfer.StepName);
        for (var i = 0; i < registry.Count; i++)
        {
            var p = registry.Parameters[i];
            Precision.Convert<double, float>(StateTransfer.Find(state, p.Name + "/value").Data, p.Value);
            if (buffers[i] is { } b)
            {
                StateTransfer.Find(state, p.Name + "/momentum").Data.CopyTo(b, 0);
            }
        }

        StepCount = step;
    }

    /// <summary>Nothing to free (managed state only).</summary>
    public void Dispose()
    {
    }
}
