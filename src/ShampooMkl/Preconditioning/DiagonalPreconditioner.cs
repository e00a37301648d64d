using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ShampooMkl.Memory;

namespace ShampooMkl.Preconditioning;

/// <summary>Adagrad/RMSprop-style diagonal preconditioner: v ← β₂·v + (1−β₂)·g² (or Σ g²), d = g / (√(v/c) + ε).</summary>
/// <remarks>Used for 1-D parameters (biases, norms) where a Kronecker factorisation has nothing to factor,
/// and as the grafting reference. The accumulator is fp64: a running sum of squares loses digits fast in fp32.
/// Its kernels skip tiered compilation (AggressiveOptimization) for the reason given on the optimizer's parameter state.</remarks>
public sealed class DiagonalPreconditioner : IPreconditioner
{
    private readonly AlignedArray<double> accumulator;

    /// <summary>Creates a zero accumulator of the given length.</summary>
    public DiagonalPreconditioner(int length, double beta2 = 1.0, double epsilon = 1e-10, bool biasCorrection = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (!(beta2 > 0 && beta2 <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β₂ must be in (0, 1].");
        }

        if (!(epsilon >= 0) || double.IsInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be non-negative and finite.");
        }

        Rows = length;
        Beta2 = beta2;
        Epsilon = epsilon;
        BiasCorrection = biasCorrection;
        accumulator = new AlignedArray<double>(length);
    }

    /// <inheritdoc />
    public int Rows { get; }

    /// <inheritdoc />
    public int Cols => 1;

    /// <summary>EMA coefficient (1 = sum).</summary>
    public double Beta2 { get; }

    /// <summary>Added to √v.</summary>
    public double Epsilon { get; }

    /// <summary>Whether EMA accumulators are divided by 1 − β₂ᵗ.</summary>
    public bool BiasCorrection { get; }

    /// <inheritdoc />
    public long UpdateCount { get; private set; }

    /// <inheritdoc />
    public bool HasRoots => true;

    /// <summary>The accumulated second moments.</summary>
    public ReadOnlySpan<double> Accumulator => accumulator.Span;

    /// <inheritdoc />
    public void Update(ReadOnlySpan<float> gradient) => Update<float>(gradient);

    /// <inheritdoc />
    public void Update(ReadOnlySpan<double> gradient) => Update<double>(gradient);

    private void Update<TIn>(ReadOnlySpan<TIn> gradient) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        GradientGuard.Check(gradient, Rows, Rows, 1);
        UpdateCore(gradient);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void UpdateCore<TIn>(ReadOnlySpan<TIn> gradient) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        // Same operations in the same order as the scalar tail (no fused multiply-add), so every element gets the
        // same bits whether it falls in a vector or in the tail.
        var v = accumulator.Span;
        var keep = Beta2;
        var add = Beta2 == 1.0 ? 1.0 : 1.0 - Beta2;
        var start = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vKeep = new Vector<double>(keep);
            var vAdd = new Vector<double>(add);
            var width = Vector<double>.Count;
            if (typeof(TIn) == typeof(float))
            {
                var g = MemoryMarshal.Cast<TIn, float>(gradient);
                for (; start <= v.Length - (2 * width); start += 2 * width)
                {
                    Vector.Widen(new Vector<float>(g.Slice(start)), out var lo, out var hi);
                    var v0 = new Vector<double>(v.Slice(start));
                    var v1 = new Vector<double>(v.Slice(start + width));
                    ((vKeep * v0) + (vAdd * lo * lo)).CopyTo(v.Slice(start));
                    ((vKeep * v1) + (vAdd * hi * hi)).CopyTo(v.Slice(start + width));
                }
            }
            else
            {
                var g = MemoryMarshal.Cast<TIn, double>(gradient);
                for (; start <= v.Length - width; start += width)
                {
                    var gi = new Vector<double>(g.Slice(start));
                    ((vKeep * new Vector<double>(v.Slice(start))) + (vAdd * gi * gi)).CopyTo(v.Slice(start));
                }
            }
        }

        for (var i = start; i < v.Length; i++)
        {
            var g = double.CreateTruncating(gradient[i]);
            v[i] = (keep * v[i]) + (add * g * g);
        }

        UpdateCount++;
    }

    /// <inheritdoc />
    public RootRefreshResult RefreshRoots() => new(true, 1, 0, null);

    /// <inheritdoc />
    public void Precondition(ReadOnlySpan<float> gradient, Span<float> direction) => Precondition<float>(gradient, direction);

    /// <inheritdoc />
    public void Precondition(ReadOnlySpan<double> gradient, Span<double> direction) => Precondition<double>(gradient, direction);

    private void Precondition<TIn>(ReadOnlySpan<TIn> gradient, Span<TIn> direction) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        GradientGuard.CheckLengths(gradient, direction, Rows);
        PreconditionCore(gradient, direction);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void PreconditionCore<TIn>(ReadOnlySpan<TIn> gradient, Span<TIn> direction) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        var v = accumulator.Span;
        var correction = Correction;
        var start = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<double>.Count;
            if (typeof(TIn) == typeof(float))
            {
                var g = MemoryMarshal.Cast<TIn, float>(gradient);
                var d = MemoryMarshal.Cast<TIn, float>(direction);
                for (; start <= v.Length - (2 * width); start += 2 * width)
                {
                    Vector.Widen(new Vector<float>(g.Slice(start)), out var lo, out var hi);
                    var d0 = Direction(lo, new Vector<double>(v.Slice(start)), correction);
                    var d1 = Direction(hi, new Vector<double>(v.Slice(start + width)), correction);
                    Vector.Narrow(d0, d1).CopyTo(d.Slice(start));
                }
            }
            else
            {
                var g = MemoryMarshal.Cast<TIn, double>(gradient);
                var d = MemoryMarshal.Cast<TIn, double>(direction);
                for (; start <= v.Length - width; start += width)
                {
                    Direction(new Vector<double>(g.Slice(start)), new Vector<double>(v.Slice(start)), correction).CopyTo(d.Slice(start));
                }
            }
        }

        for (var i = start; i < v.Length; i++)
        {
            direction[i] = TIn.CreateTruncating(Direction(double.CreateTruncating(gradient[i]), v[i], correction));
        }
    }

    /// <summary>The divisor of the accumulator: 1 − β₂ᵗ for a bias-corrected EMA, else 1.</summary>
    internal double Correction => BiasCorrection && Beta2 < 1.0 && UpdateCount > 0 ? 1.0 - Math.Pow(Beta2, UpdateCount) : 1.0;

    /// <summary>Σ dᵢ² of the direction over the elements [offset, offset + gradient.Length), computed in fp64 without
    /// writing it: what per-block grafting needs (the norm of this method's step on a block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal double SumOfSquaredDirections<TIn>(ReadOnlySpan<TIn> gradient, int offset, double correction) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        var v = accumulator.Span.Slice(offset, gradient.Length);
        var start = 0;
        var sum = 0.0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<double>.Count;
            var acc0 = Vector<double>.Zero;
            var acc1 = Vector<double>.Zero;
            if (typeof(TIn) == typeof(float))
            {
                var g = MemoryMarshal.Cast<TIn, float>(gradient);
                for (; start <= v.Length - (2 * width); start += 2 * width)
                {
                    Vector.Widen(new Vector<float>(g.Slice(start)), out var lo, out var hi);
                    var d0 = Direction(lo, new Vector<double>(v.Slice(start)), correction);
                    var d1 = Direction(hi, new Vector<double>(v.Slice(start + width)), correction);
                    acc0 += d0 * d0;
                    acc1 += d1 * d1;
                }
            }
            else
            {
                var g = MemoryMarshal.Cast<TIn, double>(gradient);
                for (; start <= v.Length - width; start += width)
                {
                    var d = Direction(new Vector<double>(g.Slice(start)), new Vector<double>(v.Slice(start)), correction);
                    acc0 += d * d;
                }
            }

            sum = Vector.Sum(acc0 + acc1);
        }

        for (var i = start; i < v.Length; i++)
        {
            var d = Direction(double.CreateTruncating(gradient[i]), v[i], correction);
            sum += d * d;
        }

        return sum;
    }

    private double Direction(double g, double v, double correction)
    {
        var denom = Math.Sqrt(v / correction) + Epsilon;
        return denom > 0 ? g / denom : 0.0;
    }

    /// <summary>The vector form of <see cref="Direction(double, double, double)"/>, with the same operations in the same order.</summary>
    private Vector<double> Direction(Vector<double> g, Vector<double> v, double correction)
    {
        var denom = Vector.SquareRoot(v / new Vector<double>(correction)) + new Vector<double>(Epsilon);
        return Vector.ConditionalSelect(Vector.GreaterThan(denom, Vector<double>.Zero), g / denom, Vector<double>.Zero);
    }

    /// <inheritdoc />
    public IReadOnlyList<StateTensor> ExportState() =>
    [
        StateTensor.From<double>("v", accumulator.Span, Rows),
        StateTensor.Scalar("updates", UpdateCount),
    ];

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        var v = StateTensorLookup.Require(state, "v", Rows);
        var updates = StateTensorLookup.Scalar(state, "updates");
        if (updates < 0 || v.Data.Any(x => x < 0))
        {
            throw new InvalidDataException("Diagonal preconditioner state holds negative values.");
        }

        v.Data.CopyTo(accumulator.Span);
        UpdateCount = (long)updates;
    }

    /// <summary>Frees the accumulator.</summary>
    public void Dispose() => accumulator.Dispose();
}
