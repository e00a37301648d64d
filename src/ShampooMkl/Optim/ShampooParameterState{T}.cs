using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>The state of one parameter with statistics, direction and momentum in <typeparamref name="T"/>.</summary>
/// <remarks>Every buffer is allocated here, once; <see cref="AccumulateStatistics"/>, <see cref="ComputeGraftScales"/> and <see cref="Update"/>
/// allocate nothing. The gradient is copied into an aligned buffer even when <typeparamref name="T"/> is float,
/// because MKL's kernels may round differently for differently aligned inputs and a managed array's alignment
/// changes from run to run: bit-exact resumption needs the same alignment every time.
/// The element-wise update kernels are in <see cref="UpdateKernels{T}"/>.</remarks>
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
    private readonly int[] rescaled;
    // An upper bound of max |m|: exact after construction, import or a checked step, then advanced by each step's bound.
    private double momentumBound;
    private double nextMomentumBound;

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
            rescaled = new int[Math.Max(shampoo?.Blocks.Count ?? 0, 1)];
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override int BlockCount => shampoo?.Blocks.Count ?? 0;

    /// <summary>The whole parameter as one row (a vector, or a matrix before preconditioning starts): the row offset
    /// arithmetic stays valid and the loops run once.</summary>
    private MatrixBlock WholeParameter => new(0, 0, 0, 1, rows * cols);

    public override IPreconditioner Preconditioner => (IPreconditioner?)shampoo ?? diagonal!;

    public override MatrixBlock BlockArea(int block) => shampoo!.Layout[block];

    public override ReadOnlySpan<int> Rescaled => rescaled;

    public override void AccumulateStatistics(ReadOnlySpan<bool> owned, double magnitude)
    {
        var g = gradient.Span;
        if (Parameter.ElementType == ParameterPrecision.Single)
        {
            Precision.Convert<float, T>(Parameter.GetGradient<float>(), g);
        }
        else
        {
            Precision.Convert<double, T>(Parameter.GetGradient<double>(), g);
        }
        if (shampoo is not null)
        {
            var whole = new ReadOnlyMatrixView<T>(g, rows, cols);
            for (var b = 0; b < shampoo.Blocks.Count; b++)
            {
                rescaled[b] = owned.IsEmpty || owned[b] ? shampoo.UpdateBlock(b, whole, magnitude) : 0;
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

    public override void ComputeGraftScales(bool precondition, Span<double> scales)
    {
        // A block's grafting scale reads only the gradient, the grafting state and that block's direction, none of which
        // the update stage changes, so computing every scale first gives the same bits as grafting block by block.
        if (precondition && shampoo is not null)
        {
            for (var b = 0; b < shampoo.Blocks.Count; b++)
            {
                scales[b] = GraftScale(shampoo.Layout[b]);
            }
        }
        else
        {
            scales[0] = precondition ? GraftScale(WholeParameter) : 1.0;
        }
    }

    public override bool UpdateIsCertainlyFinite(long step, bool precondition, bool refreshing, double learningRate, double magnitude,
        ReadOnlySpan<bool> owned)
    {
        var limit = Limit<T>();
        // The gradient in T, and fp64 accumulators summing (1−β)·g² over at most 2^53 steps.
        if (!(magnitude <= limit && magnitude * magnitude <= Math.ScaleB(double.MaxValue, -60)))
        {
            return false;
        }

        var o = Options;
        var graftStep = GraftingStepBound(magnitude);
        double direction;
        if (!precondition)
        {
            direction = graftStep;
        }
        else if (shampoo is null)
        {
            direction = o.Grafting == GraftingType.None ? DiagonalStepBound(o.Beta2) : graftStep * Math.Sqrt(Parameter.Length);
        }
        else
        {
            direction = 0;
            for (var b = 0; b < shampoo.Blocks.Count; b++)
            {
                var area = shampoo.Layout[b];
                var cells = (double)area.Rows * area.Cols;
                double bound;
                if (o.Grafting != GraftingType.None)
                {
                    // ‖σD‖_F = ‖P‖_F, or 0 for a degenerate D (see GraftScale).
                    bound = graftStep * Math.Sqrt(cells);
                }
                else if (!owned.IsEmpty && !owned[b])
                {
                    return false;
                }
                else
                {
                    var block = shampoo.Blocks[b];
                    var alpha = o.Beta2 == 1.0 ? 1.0 : 1.0 - o.Beta2;
                    var gain = refreshing ? block.DirectionGainBound(
                        Math.ScaleB(block.Factors.Trace, block.Factors.Exponent) + (alpha * magnitude * magnitude * cells)) : block.DirectionGain;
                    bound = gain * magnitude * Math.Sqrt(cells);
                }

                direction = Math.Max(direction, bound);
            }
        }

        // Room for the rounding of every product and sum above.
        direction *= 2;
        var k = new UpdateCoefficients<T>(o, step, learningRate);
        double u;
        if (momentum is not null)
        {
            nextMomentumBound = (o.Beta1 * momentumBound) + ((1 - o.Beta1) * direction);
            u = (Math.Abs(double.CreateTruncating(k.FromMomentum)) * nextMomentumBound) + (Math.Abs(double.CreateTruncating(k.FromDirection)) * direction);
            if (!(nextMomentumBound <= limit))
            {
                return false;
            }
        }
        else
        {
            u = direction;
        }

        var values = Parameter.ElementType == ParameterPrecision.Single
            ? FiniteCheck.MaxMagnitude<float>(Parameter.GetValues<float>())
            : FiniteCheck.MaxMagnitude<double>(Parameter.GetValues<double>());
        var valueLimit = Parameter.ElementType == ParameterPrecision.Single ? Limit<float>() : Limit<double>();
        var decay = Math.Abs(k.DecayDouble);
        var next = (values * decay) + (learningRate * u);
        return u <= limit && learningRate <= limit && decay <= limit && next <= valueLimit;
    }

    public override void AdvanceBounds() => momentumBound = nextMomentumBound;

    public override void MeasureBounds() =>
        momentumBound = momentum is null ? 0 : FiniteCheck.MaxMagnitude<T>(momentum.Span);

    /// <summary>The largest magnitude the certainty test lets a value of <typeparamref name="TX"/> reach: 2^-16 of its
    /// largest finite value.</summary>
    private static double Limit<TX>() where TX : unmanaged, IFloatingPointIeee754<TX> =>
        Math.ScaleB(FiniteCheck.LargestFinite<TX>(), -16);

    /// <summary>An upper bound of |P_i| for the grafting method's step P (its direction before preconditioning starts).</summary>
    /// <remarks>Adagrad's v ≥ g² and RMSprop/Adam's v ≥ (1−β)g² (bias correction only raises v/c), so |g|/(√(v/c) + ε)
    /// is at most 1 or 1/√(1−β); None and Sgd step along g.</remarks>
    private double GraftingStepBound(double magnitude) => Options.Grafting switch
    {
        GraftingType.None or GraftingType.Sgd => magnitude,
        _ => DiagonalStepBound(Options.EffectiveGraftingBeta2),
    };

    private static double DiagonalStepBound(double beta2) => beta2 >= 1.0 ? 1.0 : 1.0 / Math.Sqrt(1.0 - beta2);

    public override void Update(long step, bool precondition, double learningRate, ReadOnlySpan<double> scales)
    {
        var coefficients = new UpdateCoefficients<T>(Options, step, learningRate);
        if (precondition && shampoo is not null)
        {
            for (var b = 0; b < shampoo.Blocks.Count; b++)
            {
                UpdateBlock(shampoo.Layout[b], T.CreateTruncating(scales[b]), coefficients);
            }
        }
        else
        {
            UpdateBlock(WholeParameter, T.CreateTruncating(scales[0]), coefficients);
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
    private double GraftScale(MatrixBlock block)
    {
        if (Options.Grafting == GraftingType.None)
        {
            return 1.0;
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

        var scale = shampooSquares > 0 ? Math.Sqrt(graftSquares) / Math.Sqrt(shampooSquares) : 0.0;
        if (!double.IsFinite(shampooSquares) || !(scale <= FiniteCheck.LargestFinite<T>()))
        {
            // A direction that overflowed, or so small that its grafting scale would overflow T, would make σ·D
            // non-finite: the block is degenerate like a zero direction, and stays zero.
            for (var i = 0; i < block.Rows; i++)
            {
                direction.Span.Slice(((block.Row + i) * cols) + block.Col, block.Cols).Clear();
            }

            return 0.0;
        }

        return scale;
    }

    /// <summary>Σ x² accumulated in fp64 (a 1024×1024 block summed in fp32 would lose about three digits of its norm), in
    /// <see cref="FixedOrderSum"/>'s order: the grafting scale must have the same bits on every rank, whatever its hardware.</summary>
    private static double SumOfSquares(ReadOnlySpan<T> values) => FixedOrderSum.SumOfSquares(values);

    /// <summary>(e)–(g) on one block with its grafting scale s, through <see cref="UpdateKernels{T}"/> for the
    /// parameter's element type.</summary>
    private void UpdateBlock(MatrixBlock block, T scale, in UpdateCoefficients<T> k)
    {
        if (Parameter.ElementType == ParameterPrecision.Single)
        {
            UpdateBlock(Parameter.GetValues<float>(), block, scale, k);
        }
        else
        {
            UpdateBlock(Parameter.GetValues<double>(), block, scale, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void UpdateBlock<TW>(Span<TW> w, MatrixBlock block, T scale, in UpdateCoefficients<T> k)
        where TW : unmanaged, IFloatingPointIeee754<TW>
    {
        var d = (ReadOnlySpan<T>)direction.Span;
        var m = momentum is null ? Span<T>.Empty : momentum.Span;
        for (var i = 0; i < block.Rows; i++)
        {
            var offset = ((block.Row + i) * cols) + block.Col;
            var wRow = w.Slice(offset, block.Cols);
            var dRow = d.Slice(offset, block.Cols);
            if (momentum is null)
            {
                UpdateKernels<T>.UpdateRow(wRow, dRow, scale, k);
            }
            else
            {
                UpdateKernels<T>.UpdateRow(wRow, dRow, m.Slice(offset, block.Cols), scale, k);
            }
        }
    }

    public override void Export(List<StateTensor> into, string prefix)
    {
        into.Add(Parameter.ElementType == ParameterPrecision.Single
            ? StateTensor.From<float>(prefix + ValueName, Parameter.GetValues<float>(), [.. Parameter.Shape])
            : StateTensor.From<double>(prefix + ValueName, Parameter.GetValues<double>(), [.. Parameter.Shape]));
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
        if (Parameter.ElementType == ParameterPrecision.Single)
        {
            Precision.Convert<double, float>(value.Data, Parameter.GetValues<float>());
        }
        else
        {
            Precision.Convert<double, double>(value.Data, Parameter.GetValues<double>());
        }
        if (saved is not null)
        {
            Precision.Convert<double, T>(saved.Data, momentum!.Span);
        }

        MeasureBounds();
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
