using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Preconditioning;

/// <summary>Adagrad/RMSprop-style diagonal preconditioner: v ← β₂·v + (1−β₂)·g² (or Σ g²), d = g / (√(v/c) + ε).</summary>
/// <remarks>Used for 1-D parameters (biases, norms) where a Kronecker factorisation has nothing to factor,
/// and as the grafting reference. The accumulator is fp64: a running sum of squares loses digits fast in fp32.
/// Its kernels skip tiered compilation (AggressiveOptimization) for the reason given on the optimizer's parameter state.</remarks>
public sealed class DiagonalPreconditioner : IPreconditioner
{
    private bool disposed;

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
        ThrowIfDisposed();
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
        ThrowIfDisposed();
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
    /// <remarks>Summed in <see cref="FixedOrderSum"/>'s order, so the result has the same bits on every machine.</remarks>
    internal double SumOfSquaredDirections<TIn>(ReadOnlySpan<TIn> gradient, int offset, double correction) where TIn : unmanaged, IFloatingPointIeee754<TIn> =>
        FixedOrderSum.SumOfSquares(new Directions<TIn>(gradient, accumulator.Span.Slice(offset, gradient.Length), correction, Epsilon), FixedOrderSum.BestPath);

    /// <summary><see cref="SumOfSquaredDirections{TIn}(ReadOnlySpan{TIn}, int, double)"/> on a chosen path (all give the same bits).</summary>
    internal double SumOfSquaredDirections<TIn>(ReadOnlySpan<TIn> gradient, int offset, double correction, SumPath path)
        where TIn : unmanaged, IFloatingPointIeee754<TIn> =>
        FixedOrderSum.SumOfSquares(new Directions<TIn>(gradient, accumulator.Span.Slice(offset, gradient.Length), correction, Epsilon), path);

    /// <summary><see cref="SumOfSquaredDirections{TIn}(ReadOnlySpan{TIn}, int, double)"/> on the best vector path or the scalar path.</summary>
    internal double SumOfSquaredDirections<TIn>(ReadOnlySpan<TIn> gradient, int offset, double correction, bool vectorized)
        where TIn : unmanaged, IFloatingPointIeee754<TIn> =>
        FixedOrderSum.SumOfSquares(new Directions<TIn>(gradient, accumulator.Span.Slice(offset, gradient.Length), correction, Epsilon), vectorized);

    private double Direction(double g, double v, double correction) => Direction(g, v, correction, Epsilon);

    /// <summary>d = g / (√(v/c) + ε), and 0 where the denominator is not positive.</summary>
    private static double Direction(double g, double v, double correction, double epsilon)
    {
        var denom = Math.Sqrt(v / correction) + epsilon;
        return denom > 0 ? g / denom : 0.0;
    }

    /// <summary>The two-element form of <see cref="Direction(double, double, double, double)"/>, with the same operations in
    /// the same order (IEEE division and square root are correctly rounded, so each element gets the scalar's bits).</summary>
    private static Vector128<double> Direction(Vector128<double> g, Vector128<double> v, double correction, double epsilon)
    {
        var denom = Vector128.Sqrt(v / Vector128.Create(correction)) + Vector128.Create(epsilon);
        return Vector128.ConditionalSelect(Vector128.GreaterThan(denom, Vector128<double>.Zero), g / denom, Vector128<double>.Zero);
    }

    /// <summary>The four-element form of <see cref="Direction(double, double, double, double)"/> (same operations, same order).</summary>
    private static Vector256<double> Direction(Vector256<double> g, Vector256<double> v, double correction, double epsilon)
    {
        var denom = Vector256.Sqrt(v / Vector256.Create(correction)) + Vector256.Create(epsilon);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(denom, Vector256<double>.Zero), g / denom, Vector256<double>.Zero);
    }

    /// <summary>The directions dᵢ of a gradient slice and the matching accumulator slice, as terms of a fixed-order sum.</summary>
    private readonly ref struct Directions<TIn> : ISquaredTerms where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        private readonly ReadOnlySpan<TIn> gradient;
        private readonly ReadOnlySpan<double> v;
        private readonly double correction;
        private readonly double epsilon;

        public Directions(ReadOnlySpan<TIn> gradient, ReadOnlySpan<double> v, double correction, double epsilon)
        {
            this.gradient = gradient;
            this.v = v;
            this.correction = correction;
            this.epsilon = epsilon;
        }

        public int Length => gradient.Length;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public double Term(int index) => Direction(double.CreateTruncating(gradient[index]), v[index], correction, epsilon);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Terms(int index, out Vector128<double> t0, out Vector128<double> t1, out Vector128<double> t2, out Vector128<double> t3)
        {
            FixedOrderSum.Load(gradient, index, out var g0, out var g1, out var g2, out var g3);
            FixedOrderSum.Load(v, index, out var v0, out var v1, out var v2, out var v3);
            t0 = Direction(g0, v0, correction, epsilon);
            t1 = Direction(g1, v1, correction, epsilon);
            t2 = Direction(g2, v2, correction, epsilon);
            t3 = Direction(g3, v3, correction, epsilon);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Terms(int index, out Vector256<double> low, out Vector256<double> high)
        {
            FixedOrderSum.Load(gradient, index, out Vector256<double> g0, out Vector256<double> g1);
            FixedOrderSum.Load(v, index, out Vector256<double> v0, out Vector256<double> v1);
            low = Direction(g0, v0, correction, epsilon);
            high = Direction(g1, v1, correction, epsilon);
        }
    }

    /// <summary>The vector form of <see cref="Direction(double, double, double)"/>, with the same operations in the same order.</summary>
    private Vector<double> Direction(Vector<double> g, Vector<double> v, double correction)
    {
        var denom = Vector.SquareRoot(v / new Vector<double>(correction)) + new Vector<double>(Epsilon);
        return Vector.ConditionalSelect(Vector.GreaterThan(denom, Vector<double>.Zero), g / denom, Vector<double>.Zero);
    }

    /// <inheritdoc />
    public IReadOnlyList<StateTensor> ExportState()
    {
        ThrowIfDisposed();
        return
        [
            StateTensor.From<double>("v", accumulator.Span, Rows),
            StateTensor.Scalar("updates", UpdateCount),
        ];
    }

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        ThrowIfDisposed();
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
    public void Dispose()
    {
        disposed = true;
        accumulator.Dispose();
    }

    /// <summary>Names this type, not a native buffer, when used after <see cref="Dispose"/>.</summary>
    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
