using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Everything <see cref="Shampoo"/> keeps for one parameter, independent of the factor precision.</summary>
internal abstract class ShampooParameterState : IDisposable
{
    protected ShampooParameterState(Parameter parameter, ShampooOptions options)
    {
        Parameter = parameter;
        Options = options;
    }

    public Parameter Parameter { get; }

    public ShampooOptions Options { get; }

    /// <summary>Kronecker blocks whose roots are refreshed (0 for a vector).</summary>
    public abstract int BlockCount { get; }

    /// <summary>The preconditioner of the parameter (blocked Shampoo or diagonal).</summary>
    public abstract IPreconditioner Preconditioner { get; }

    /// <summary>The shape of one Kronecker block.</summary>
    public abstract (int Rows, int Cols) BlockShape(int block);

    /// <summary>(b) Copies the validated gradient into the factor precision and accumulates every statistic, the
    /// Kronecker factors only of the blocks marked in <paramref name="owned"/> (all of them when it is empty).</summary>
    public abstract void AccumulateStatistics(ReadOnlySpan<bool> owned);

    /// <summary>(c) Recomputes the roots of one block; safe to call for different blocks concurrently.</summary>
    public abstract RootRefreshResult RefreshBlock(int block);

    /// <summary>(d) The direction before grafting: the grafting method's step before preconditioning starts, else the
    /// preconditioned gradient of the blocks marked in <paramref name="owned"/> (all when empty) and of a vector.</summary>
    public abstract void ComputeDirection(bool precondition, ReadOnlySpan<bool> owned);

    /// <summary>(d)–(g) Grafting of every block's direction, momentum, weight decay and the parameter update.</summary>
    public abstract void FinishUpdate(long step, bool precondition, double learningRate);

    /// <summary>Bytes of one block of the direction.</summary>
    public abstract int DirectionBlockBytes(int block);

    /// <summary>Copies one block of the direction, row by row, into <paramref name="destination"/>.</summary>
    public abstract void ReadDirectionBlock(int block, Span<byte> destination);

    /// <summary>Overwrites one block of the direction from what <see cref="ReadDirectionBlock"/> wrote on another rank.</summary>
    public abstract void WriteDirectionBlock(int block, ReadOnlySpan<byte> source);

    /// <summary>The complete state of one Kronecker block, names without prefix.</summary>
    public abstract IReadOnlyList<StateTensor> ExportBlock(int block);

    /// <summary>Replaces the state of one Kronecker block (validated first).</summary>
    public abstract void ImportBlock(int block, IReadOnlyList<StateTensor> state);

    /// <summary>Appends the state, names prefixed with <paramref name="prefix"/>.</summary>
    public abstract void Export(List<StateTensor> into, string prefix);

    /// <summary>Replaces the state from tensors whose prefix was already removed (structure checked by the caller).</summary>
    public abstract void Import(IReadOnlyList<StateTensor> state);

    public abstract void Dispose();

    public static ShampooParameterState Create(Parameter parameter, ShampooOptions options, BlasBackend? blas) =>
        options.FactorPrecision == FactorPrecision.Double
            ? new ShampooParameterState<double>(parameter, options, blas)
            : new ShampooParameterState<float>(parameter, options, blas);
}

/// <summary>The state of one parameter with statistics, direction and momentum in <typeparamref name="T"/>.</summary>
/// <remarks>Every buffer is allocated here, once; <see cref="AccumulateStatistics"/> and <see cref="FinishUpdate"/>
/// allocate nothing. The gradient is copied into an aligned buffer even when <typeparamref name="T"/> is float,
/// because MKL's kernels may round differently for differently aligned inputs and a managed array's alignment
/// changes from run to run: bit-exact resumption needs the same alignment every time.
/// The element-wise kernels are compiled fully optimised on their first call (AggressiveOptimization): at tier 0 the
/// Vector&lt;T&gt; operations are calls, not instructions, and a run's first few hundred steps would take about 1.5× as
/// long (measured on the MLP: 6.5 ms per step over steps 2–57 vs 4.2 ms once tiered up).</remarks>
internal sealed class ShampooParameterState<T> : ShampooParameterState where T : unmanaged, IFloatingPointIeee754<T>
{
    private const string ValueName = "value";
    private const string MomentumName = "momentum";
    private const string ShampooPrefix = "shampoo.";
    private const string DiagonalPrefix = "diagonal.";
    private const string GraftingPrefix = "grafting.";

    private readonly int rows;
    private readonly int cols;
    private readonly BlockedShampooPreconditioner<T>? shampoo;
    private readonly DiagonalPreconditioner? diagonal;
    private readonly DiagonalPreconditioner? grafting;
    private readonly AlignedArray<T> gradient;
    private readonly AlignedArray<T> direction;
    private readonly AlignedArray<T>? momentum;

    public ShampooParameterState(Parameter parameter, ShampooOptions options, BlasBackend? blas)
        : base(parameter, options)
    {
        try
        {
            if (parameter.IsMatrix)
            {
                rows = parameter.MatrixRows;
                cols = parameter.MatrixCols;
                shampoo = new BlockedShampooPreconditioner<T>(rows, cols, options.MaxPreconditionerDim, options.ToPreconditionerOptions(), blas);
            }
            else
            {
                rows = parameter.Length;
                cols = 1;
                diagonal = new DiagonalPreconditioner(parameter.Length, options.Beta2, options.DiagonalEpsilon, options.BiasCorrection);
            }

            if (options.GraftingHasState)
            {
                // Adam's second moment is bias-corrected by definition and RMSprop's is not (as in DS).
                grafting = new DiagonalPreconditioner(parameter.Length, options.EffectiveGraftingBeta2, options.EffectiveGraftingEpsilon,
                    biasCorrection: options.Grafting == GraftingType.Adam);
            }

            gradient = new AlignedArray<T>(parameter.Length);
            direction = new AlignedArray<T>(parameter.Length);
            momentum = options.Beta1 > 0 ? new AlignedArray<T>(parameter.Length) : null;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override int BlockCount => shampoo?.Blocks.Count ?? 0;

    public override IPreconditioner Preconditioner => (IPreconditioner?)shampoo ?? diagonal!;

    public override (int Rows, int Cols) BlockShape(int block) => (shampoo!.Layout[block].Rows, shampoo.Layout[block].Cols);

    public override void AccumulateStatistics(ReadOnlySpan<bool> owned)
    {
        var g = gradient.Span;
        Precision.Convert<float, T>(Parameter.Gradient, g);
        if (shampoo is not null)
        {
            var whole = new ReadOnlyMatrixView<T>(g, rows, cols);
            for (var b = 0; b < shampoo.Blocks.Count; b++)
            {
                if (owned.IsEmpty || owned[b])
                {
                    shampoo.UpdateBlock(b, whole);
                }
            }
        }
        else
        {
            diagonal!.UpdateCore<T>(g);
        }

        grafting?.UpdateCore<T>(g);
    }

    public override RootRefreshResult RefreshBlock(int block) => shampoo!.Blocks[block].RefreshRoots();

    public override void ComputeDirection(bool precondition, ReadOnlySpan<bool> owned)
    {
        var g = gradient.Span;
        var d = direction.Span;
        if (!precondition)
        {
            GraftingDirection(g, d);
        }
        else if (shampoo is not null)
        {
            var gv = new ReadOnlyMatrixView<T>(g, rows, cols);
            var dv = new MatrixView<T>(d, rows, cols);
            for (var b = 0; b < shampoo.Blocks.Count; b++)
            {
                if (owned.IsEmpty || owned[b])
                {
                    shampoo.PreconditionBlock(b, gv, dv);
                }
            }
        }
        else
        {
            diagonal!.PreconditionCore<T>(g, d);
        }
    }

    public override void FinishUpdate(long step, bool precondition, double learningRate)
    {
        // Blocks are disjoint and a block's grafting scale reads only the gradient, the grafting state and that block's
        // direction, so grafting and updating block by block gives the same bits as grafting every block first; it
        // saves a pass over the direction, which at these sizes costs as much as the arithmetic.
        var coefficients = new UpdateCoefficients(Options, step, learningRate);
        if (precondition && shampoo is not null)
        {
            for (var b = 0; b < shampoo.Blocks.Count; b++)
            {
                var block = shampoo.Layout[b];
                UpdateBlock(block, GraftScale(block), coefficients);
            }
        }
        else
        {
            // One row of the whole length: the row offset arithmetic stays valid and the loops run once.
            var whole = new MatrixBlock(0, 0, 0, 1, rows * cols);
            UpdateBlock(whole, precondition ? GraftScale(whole) : T.One, coefficients);
        }
    }

    public override unsafe int DirectionBlockBytes(int block) => shampoo!.Layout[block].Rows * shampoo.Layout[block].Cols * sizeof(T);

    public override unsafe void ReadDirectionBlock(int block, Span<byte> destination)
    {
        var b = shampoo!.Layout[block];
        var rowBytes = b.Cols * sizeof(T);
        var d = direction.Span;
        for (var i = 0; i < b.Rows; i++)
        {
            MemoryMarshal.AsBytes(d.Slice(((b.Row + i) * cols) + b.Col, b.Cols)).CopyTo(destination.Slice(i * rowBytes, rowBytes));
        }
    }

    public override unsafe void WriteDirectionBlock(int block, ReadOnlySpan<byte> source)
    {
        var b = shampoo!.Layout[block];
        var rowBytes = b.Cols * sizeof(T);
        var d = direction.Span;
        for (var i = 0; i < b.Rows; i++)
        {
            source.Slice(i * rowBytes, rowBytes).CopyTo(MemoryMarshal.AsBytes(d.Slice(((b.Row + i) * cols) + b.Col, b.Cols)));
        }
    }

    public override IReadOnlyList<StateTensor> ExportBlock(int block) => shampoo!.Blocks[block].ExportState();

    public override void ImportBlock(int block, IReadOnlyList<StateTensor> state) => shampoo!.Blocks[block].ImportState(state);

    /// <summary>The direction before preconditioning starts: the grafted method's own step (the gradient for None/Sgd).</summary>
    private void GraftingDirection(Span<T> g, Span<T> d)
    {
        if (grafting is null)
        {
            g.CopyTo(d);
        }
        else
        {
            grafting.PreconditionCore<T>(g, d);
        }
    }

    /// <summary>The factor that gives the block of the direction the Frobenius norm the grafted method's step has on
    /// the same block (1 without grafting).</summary>
    /// <remarks>A block whose Shampoo direction is exactly zero stays zero (DS adds 1e-16 to the denominator instead,
    /// which is scale-dependent; the results agree whenever the direction is not zero).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private T GraftScale(MatrixBlock block)
    {
        if (Options.Grafting == GraftingType.None)
        {
            return T.One;
        }

        var g = (ReadOnlySpan<T>)gradient.Span;
        var d = (ReadOnlySpan<T>)direction.Span;
        var correction = grafting?.Correction ?? 1.0;
        var graftSquares = 0.0;
        var shampooSquares = 0.0;
        for (var i = 0; i < block.Rows; i++)
        {
            var offset = ((block.Row + i) * cols) + block.Col;
            var gRow = g.Slice(offset, block.Cols);
            graftSquares += grafting is null ? SumOfSquares(gRow) : grafting.SumOfSquaredDirections(gRow, offset, correction);
            shampooSquares += SumOfSquares(d.Slice(offset, block.Cols));
        }

        return T.CreateTruncating(shampooSquares > 0 ? Math.Sqrt(graftSquares) / Math.Sqrt(shampooSquares) : 0.0);
    }

    /// <summary>Σ x² accumulated in fp64 (a 1024×1024 block summed in fp32 would lose about three digits of its norm), in
    /// <see cref="FixedOrderSum"/>'s order: the grafting scale must have the same bits on every rank, whatever its hardware.</summary>
    private static double SumOfSquares(ReadOnlySpan<T> values) => FixedOrderSum.SumOfSquares(values);

    /// <summary>The scalars of (e)–(g) for one step, rounded to <typeparamref name="T"/> once.</summary>
    private readonly struct UpdateCoefficients
    {
        public UpdateCoefficients(ShampooOptions o, long step, double learningRate)
        {
            var correction = o.BiasCorrection ? 1.0 - Math.Pow(o.Beta1, step) : 1.0;
            Decay = T.CreateTruncating(1.0 - (learningRate * o.WeightDecay));
            LearningRate = T.CreateTruncating(learningRate);
            Keep = T.CreateTruncating(o.Beta1);
            Add = T.CreateTruncating(1.0 - o.Beta1);
            FromMomentum = T.CreateTruncating((o.Nesterov ? o.Beta1 : 1.0) / correction);
            FromDirection = o.Nesterov ? Add : T.Zero;
        }

        public T Decay { get; }

        public T LearningRate { get; }

        public T Keep { get; }

        public T Add { get; }

        public T FromMomentum { get; }

        public T FromDirection { get; }
    }

    /// <summary>(e)–(g) on one block with its grafting scale s: d' = s·d; m ← β₁m + (1−β₁)d'; u = m/c₁ or
    /// β₁m/c₁ + (1−β₁)d'; W ← W·(1 − ηλ) − η·u.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void UpdateBlock(MatrixBlock block, T scale, in UpdateCoefficients k)
    {
        var w = Parameter.Value.AsSpan();
        var d = (ReadOnlySpan<T>)direction.Span;
        var m = momentum is null ? Span<T>.Empty : momentum.Span;
        for (var i = 0; i < block.Rows; i++)
        {
            var offset = ((block.Row + i) * cols) + block.Col;
            var wRow = w.Slice(offset, block.Cols);
            var dRow = d.Slice(offset, block.Cols);
            if (momentum is null)
            {
                UpdateRow(wRow, dRow, scale, k);
            }
            else
            {
                UpdateRow(wRow, dRow, m.Slice(offset, block.Cols), scale, k);
            }
        }
    }

    /// <summary>W ← W·(1 − ηλ) − η·s·d. The vector loop does the scalar tail's operations in the same order (no fused
    /// multiply-add), so an element's bits do not depend on where it falls.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateRow(Span<float> w, ReadOnlySpan<T> d, T scale, in UpdateCoefficients k)
    {
        var start = 0;
        if (Vector.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            var wf = MemoryMarshal.Cast<float, T>(w);
            var vDecay = new Vector<T>(k.Decay);
            var vLr = new Vector<T>(k.LearningRate);
            var vScale = new Vector<T>(scale);
            for (; start <= w.Length - Vector<T>.Count; start += Vector<T>.Count)
            {
                var di = new Vector<T>(d.Slice(start)) * vScale;
                ((new Vector<T>(wf.Slice(start)) * vDecay) - (vLr * di)).CopyTo(wf.Slice(start));
            }
        }
        else if (Vector.IsHardwareAccelerated)
        {
            var dd = MemoryMarshal.Cast<T, double>(d);
            var vDecay = new Vector<double>(double.CreateTruncating(k.Decay));
            var vLr = new Vector<double>(double.CreateTruncating(k.LearningRate));
            var vScale = new Vector<double>(double.CreateTruncating(scale));
            var width = Vector<double>.Count;
            for (; start <= w.Length - (2 * width); start += 2 * width)
            {
                Vector.Widen(new Vector<float>(w.Slice(start)), out var w0, out var w1);
                var d0 = new Vector<double>(dd.Slice(start)) * vScale;
                var d1 = new Vector<double>(dd.Slice(start + width)) * vScale;
                Vector.Narrow((w0 * vDecay) - (vLr * d0), (w1 * vDecay) - (vLr * d1)).CopyTo(w.Slice(start));
            }
        }

        for (var i = start; i < w.Length; i++)
        {
            var di = d[i] * scale;
            w[i] = float.CreateTruncating((T.CreateTruncating(w[i]) * k.Decay) - (k.LearningRate * di));
        }
    }

    /// <summary>m ← β₁m + (1−β₁)·s·d, then W ← W·(1 − ηλ) − η·u (see <see cref="UpdateBlock"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateRow(Span<float> w, ReadOnlySpan<T> d, Span<T> m, T scale, in UpdateCoefficients k)
    {
        var start = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vKeep = new Vector<T>(k.Keep);
            var vAdd = new Vector<T>(k.Add);
            var vFromMomentum = new Vector<T>(k.FromMomentum);
            var vFromDirection = new Vector<T>(k.FromDirection);
            var vScale = new Vector<T>(scale);
            if (typeof(T) == typeof(float))
            {
                var wt = MemoryMarshal.Cast<float, T>(w);
                var vDecay = new Vector<T>(k.Decay);
                var vLr = new Vector<T>(k.LearningRate);
                for (; start <= w.Length - Vector<T>.Count; start += Vector<T>.Count)
                {
                    var di = new Vector<T>(d.Slice(start)) * vScale;
                    var mi = (vKeep * new Vector<T>(m.Slice(start))) + (vAdd * di);
                    mi.CopyTo(m.Slice(start));
                    var u = (vFromMomentum * mi) + (vFromDirection * di);
                    ((new Vector<T>(wt.Slice(start)) * vDecay) - (vLr * u)).CopyTo(wt.Slice(start));
                }
            }
            else
            {
                // fp64 state, fp32 parameters: two fp64 vectors per fp32 vector.
                var vDecay = new Vector<double>(double.CreateTruncating(k.Decay));
                var vLr = new Vector<double>(double.CreateTruncating(k.LearningRate));
                var dd = MemoryMarshal.Cast<T, double>(d);
                var md = MemoryMarshal.Cast<T, double>(m);
                var width = Vector<double>.Count;
                for (; start <= w.Length - (2 * width); start += 2 * width)
                {
                    Vector.Widen(new Vector<float>(w.Slice(start)), out var w0, out var w1);
                    var u0 = MomentumStep(dd.Slice(start), md.Slice(start), vScale, vKeep, vAdd, vFromMomentum, vFromDirection);
                    var u1 = MomentumStep(dd.Slice(start + width), md.Slice(start + width), vScale, vKeep, vAdd, vFromMomentum, vFromDirection);
                    Vector.Narrow((w0 * vDecay) - (vLr * u0), (w1 * vDecay) - (vLr * u1)).CopyTo(w.Slice(start));
                }
            }
        }

        for (var i = start; i < w.Length; i++)
        {
            var di = d[i] * scale;
            var mi = (k.Keep * m[i]) + (k.Add * di);
            m[i] = mi;
            var u = (k.FromMomentum * mi) + (k.FromDirection * di);
            w[i] = float.CreateTruncating((T.CreateTruncating(w[i]) * k.Decay) - (k.LearningRate * u));
        }
    }

    /// <summary>The fp64 momentum step of <see cref="UpdateRow(Span{float}, ReadOnlySpan{T}, Span{T}, T, in UpdateCoefficients)"/>
    /// for one vector; returns u.</summary>
    private static Vector<double> MomentumStep(ReadOnlySpan<double> d, Span<double> m, Vector<T> scale, Vector<T> keep, Vector<T> add,
        Vector<T> fromMomentum, Vector<T> fromDirection)
    {
        var di = new Vector<double>(d) * scale.As<T, double>();
        var mi = (keep.As<T, double>() * new Vector<double>(m)) + (add.As<T, double>() * di);
        mi.CopyTo(m);
        return (fromMomentum.As<T, double>() * mi) + (fromDirection.As<T, double>() * di);
    }

    public override void Export(List<StateTensor> into, string prefix)
    {
        into.Add(StateTensor.From<float>(prefix + ValueName, Parameter.Value, [.. Parameter.Shape]));
        if (momentum is not null)
        {
            into.Add(StateTensor.From<T>(prefix + MomentumName, momentum.Span, Parameter.Length));
        }

        if (shampoo is not null)
        {
            StateTransfer.AddPrefixed(into, prefix + ShampooPrefix, shampoo.ExportState());
        }
        else
        {
            StateTransfer.AddPrefixed(into, prefix + DiagonalPrefix, diagonal!.ExportState());
        }

        if (grafting is not null)
        {
            StateTransfer.AddPrefixed(into, prefix + GraftingPrefix, grafting.ExportState());
        }
    }

    public override void Import(IReadOnlyList<StateTensor> state)
    {
        // The preconditioners validate their own parts before changing anything; the optimizer rolls back on failure.
        var shampooState = StateTransfer.Under(state, ShampooPrefix);
        var diagonalState = StateTransfer.Under(state, DiagonalPrefix);
        var graftingState = StateTransfer.Under(state, GraftingPrefix);
        var value = StateTransfer.Find(state, ValueName);
        var saved = momentum is null ? null : StateTransfer.Find(state, MomentumName);
        shampoo?.ImportState(shampooState);
        diagonal?.ImportState(diagonalState);
        grafting?.ImportState(graftingState);
        Precision.Convert<double, float>(value.Data, Parameter.Value);
        if (saved is not null)
        {
            Precision.Convert<double, T>(saved.Data, momentum!.Span);
        }
    }

    public override void Dispose()
    {
        shampoo?.Dispose();
        diagonal?.Dispose();
        grafting?.Dispose();
        gradient?.Dispose();
        direction?.Dispose();
        momentum?.Dispose();
    }
}
