using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>AdamW (Loshchilov &amp; Hutter), the baseline Shampoo must beat, with the same parameter-group, step and checkpoint API.</summary>
/// <remarks>
/// At step t with η = η₀·<c>Schedule.Factor(t)</c> (η₀ the group's base rate, <see cref="ElementwiseOptimizer{TOptions}.GetLearningRate"/>), elementwise in fp64:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), W ← W·(1 − ηλ) − η·m̂/(√v̂ + ε),
/// W rounded to the parameter's precision once. Gradients are checked as in <see cref="Shampoo"/> (wrong length throws, NaN/±∞ skips the step).
/// The moments are fp64 arrays allocated once; a step allocates nothing.
/// Checkpoint names: <c>step</c>, and per parameter <c>{name}/value</c>, <c>{name}/m</c>, <c>{name}/v</c>.
/// </remarks>
public sealed class AdamW : ElementwiseOptimizer<AdamWOptions>
{
    /// <summary>The value of <see cref="CheckpointKind"/>.</summary>
    public const string Kind = "AdamW";

    private readonly double[][] first;
    private readonly double[][] second;
    // Running upper bounds of max |m| and max v per parameter (exact after import or a checked step), and the next ones.
    private readonly double[] firstBound;
    private readonly double[] secondBound;
    private readonly double[] nextFirstBound;
    private readonly double[] nextSecondBound;

    /// <summary>AdamW over <paramref name="parameters"/>, all with the same options (null: <see cref="AdamWOptions.Default"/>).</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public AdamW(IReadOnlyList<Parameter> parameters, AdamWOptions? options = null)
        : this([new ParameterGroup<AdamWOptions>(parameters ?? throw new ArgumentNullException(nameof(parameters)))], options)
    {
    }

    /// <summary>AdamW over parameter groups, each with <paramref name="defaults"/> and its own override of them.</summary>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public AdamW(IReadOnlyList<ParameterGroup<AdamWOptions>> groups, AdamWOptions? defaults = null)
        : base(groups, defaults ?? AdamWOptions.Default)
    {
        first = Registry.Parameters.Select(p => new double[p.Length]).ToArray();
        second = Registry.Parameters.Select(p => new double[p.Length]).ToArray();
        firstBound = new double[Registry.Count];
        secondBound = new double[Registry.Count];
        nextFirstBound = new double[Registry.Count];
        nextSecondBound = new double[Registry.Count];
    }

    /// <inheritdoc />
    public override string CheckpointKind => Kind;

    private protected override bool Update<TW>(int index, AdamWOptions options, long step, double learningRate, double decay,
        Span<TW> value, ReadOnlySpan<TW> gradient, bool write)
    {
        var o = options;
        var c1 = 1.0 - Math.Pow(o.Beta1, step);
        var c2 = 1.0 - Math.Pow(o.Beta2, step);
        var m = first[index].AsSpan();
        var v = second[index].AsSpan();
        var finite = 0.0;
        for (var j = 0; j < value.Length; j++)
        {
            var gj = double.CreateTruncating(gradient[j]);
            var mj = (o.Beta1 * m[j]) + ((1.0 - o.Beta1) * gj);
            var vj = (o.Beta2 * v[j]) + ((1.0 - o.Beta2) * gj * gj);
            var update = (mj / c1) / (Math.Sqrt(vj / c2) + o.Epsilon);
            var wj = TW.CreateTruncating((double.CreateTruncating(value[j]) * decay) - (learningRate * update));
            if (write)
            {
                m[j] = mj;
                v[j] = vj;
                value[j] = wj;
            }
            else
            {
                // x − x is 0 for finite x and NaN otherwise.
                finite += (mj - mj) + (vj - vj) + double.CreateTruncating(wj - wj);
            }
        }

        return finite == 0.0;
    }

    private protected override double UpdateBound(int index, AdamWOptions options, long step, double gradientMagnitude)
    {
        var o = options;
        var m = (o.Beta1 * firstBound[index]) + ((1.0 - o.Beta1) * gradientMagnitude);
        var v = (o.Beta2 * secondBound[index]) + ((1.0 - o.Beta2) * gradientMagnitude * gradientMagnitude);
        nextFirstBound[index] = m;
        nextSecondBound[index] = v;
        // |m̂/(√v̂ + ε)| ≤ (|m|/c₁)/ε; twice that for rounding.
        var bound = 2 * m / (1.0 - Math.Pow(o.Beta1, step)) / o.Epsilon;
        return v <= Math.ScaleB(double.MaxValue, -16) ? bound : double.PositiveInfinity;
    }

    private protected override void AdvanceBounds(int index)
    {
        firstBound[index] = nextFirstBound[index];
        secondBound[index] = nextSecondBound[index];
    }

    private protected override void MeasureBounds(int index)
    {
        firstBound[index] = FiniteCheck.MaxMagnitude<double>(first[index]);
        secondBound[index] = FiniteCheck.MaxMagnitude<double>(second[index]);
    }

    private protected override string DescribeState(int index) => "moments";

    private protected override void ExportParameterState(int index, List<StateTensor> into)
    {
        var p = Registry.Parameters[index];
        into.Add(StateTensor.From<double>(p.Name + "/m", first[index], p.Length));
        into.Add(StateTensor.From<double>(p.Name + "/v", second[index], p.Length));
    }

    private protected override void CheckImportedState(IReadOnlyList<StateTensor> state)
    {
        foreach (var p in Registry.Parameters)
        {
            if (StateTransfer.Find(state, p.Name + "/v").Data.Any(x => x < 0))
            {
                throw new InvalidDataException($"State tensor '{p.Name}/v' holds negative second moments.");
            }
        }
    }

    private protected override void ImportParameterState(int index, IReadOnlyList<StateTensor> state)
    {
        var p = Registry.Parameters[index];
        StateTransfer.Find(state, p.Name + "/m").Data.CopyTo(first[index], 0);
        StateTransfer.Find(state, p.Name + "/v").Data.CopyTo(second[index], 0);
    }
}
