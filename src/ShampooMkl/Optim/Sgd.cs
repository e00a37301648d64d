using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Stochastic gradient descent with heavy-ball or Nesterov momentum and decoupled weight decay: the simplest baseline.</summary>
/// <remarks>
/// At step t with η = η₀·<c>Schedule.Factor(t)</c> (η₀ the group's base rate, <see cref="ElementwiseOptimizer{TOptions}.GetLearningRate"/>), elementwise in fp64: b ← μb + g (PyTorch's form);
/// u = g + μb with Nesterov, else b (u = g when μ = 0); W ← W·(1 − ηλ) − η·u, rounded to the parameter's precision once.
/// Gradients are checked as in <see cref="Shampoo"/>. A step allocates nothing.
/// Checkpoint names: <c>step</c>, and per parameter <c>{name}/value</c> and, with momentum, <c>{name}/momentum</c>.
/// </remarks>
public sealed class Sgd : ElementwiseOptimizer<SgdOptions>
{
    /// <summary>The value of <see cref="CheckpointKind"/>.</summary>
    public const string Kind = "Sgd";

    private readonly double[]?[] buffers;
    // A running upper bound of max |b| per parameter (exact after import or a checked step), and the next one.
    private readonly double[] bufferBound;
    private readonly double[] nextBufferBound;

    /// <summary>SGD over <paramref name="parameters"/>, all with the same options (null: <see cref="SgdOptions.Default"/>).</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public Sgd(IReadOnlyList<Parameter> parameters, SgdOptions? options = null)
        : this([new ParameterGroup<SgdOptions>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], options)
    {
    }

    /// <summary>SGD over parameter groups, each with <paramref name="defaults"/> and its own override of them.</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public Sgd(IReadOnlyList<ParameterGroup<SgdOptions>> groups, SgdOptions? defaults = null)
        : base(groups, defaults ?? SgdOptions.Default)
    {
        buffers = Enumerable.Range(0, Registry.Count)
            .Select(i => Registry.OptionsOf(i).Momentum > 0 ? new double[Registry.Parameters[i].Length] : null).ToArray();
        bufferBound = new double[Registry.Count];
        nextBufferBound = new double[Registry.Count];
    }

    /// <inheritdoc />
    public override string CheckpointKind => Kind;

    private protected override bool Update<TW>(int index, SgdOptions options, long step, double learningRate, double decay,
        Span<TW> value, ReadOnlySpan<TW> gradient, bool write)
    {
        var o = options;
        var b = buffers[index];
        var finite = 0.0;
        for (var j = 0; j < value.Length; j++)
        {
            var u = double.CreateTruncating(gradient[j]);
            var bj = 0.0;
            if (b is not null)
            {
                bj = (o.Momentum * b[j]) + u;
                u = o.Nesterov ? u + (o.Momentum * bj) : bj;
            }

            var wj = TW.CreateTruncating((double.CreateTruncating(value[j]) * decay) - (learningRate * u));
            if (write)
            {
                if (b is not null)
                {
                    b[j] = bj;
                }

                value[j] = wj;
            }
            else
            {
                // x − x is 0 for finite x and NaN otherwise.
                finite += (bj - bj) + double.CreateTruncating(wj - wj);
            }
        }

        return finite == 0.0;
    }

    private protected override double UpdateBound(int index, SgdOptions options, long step, double gradientMagnitude)
    {
        if (buffers[index] is null)
        {
            return 2 * gradientMagnitude;
        }

        var b = (options.Momentum * bufferBound[index]) + gradientMagnitude;
        nextBufferBound[index] = b;
        var u = options.Nesterov ? gradientMagnitude + (options.Momentum * b) : b;
        return b <= Math.ScaleB(double.MaxValue, -16) ? 2 * u : double.PositiveInfinity;
    }

    private protected override void AdvanceBounds(int index) => bufferBound[index] = nextBufferBound[index];

    private protected override void MeasureBounds(int index) =>
        bufferBound[index] = buffers[index] is { } b ? FiniteCheck.MaxMagnitude<double>(b) : 0;

    private protected override string DescribeState(int index) => $"momentum={Registry.OptionsOf(index).Momentum > 0}";

    private protected override void ExportParameterState(int index, List<StateTensor> into)
    {
        if (buffers[index] is { } b)
        {
            var p = Registry.Parameters[index];
            into.Add(StateTensor.From<double>(p.Name + "/momentum", b, p.Length));
        }
    }

    private protected override void ImportParameterState(int index, IReadOnlyList<StateTensor> state)
    {
        if (buffers[index] is { } b)
        {
            StateTransfer.Find(state, Registry.Parameters[index].Name + "/momentum").Data.CopyTo(b, 0);
        }
    }
}
