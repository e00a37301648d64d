using System.Numerics;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>One parameter under the eigenvalue-corrected (SOAP) preconditioner, in <typeparamref name="T"/>, as the
/// stages of <see cref="Shampoo"/>'s step see it (the algorithm is in <see cref="ShampooOptions.Preconditioner"/>).</summary>
/// <remarks>
/// How SOAP's order maps onto the stages, so that the step is SOAP's to the rounding: (b) copies the gradient;
/// (c) refreshes the bases from the statistics of the gradients before this one (SOAP refreshes at the end of the
/// previous step; nothing reads the bases in between); (d) takes the Adam step in the rotated space; (f) grafts
/// nothing; (g) updates the values and only then adds this gradient to L and R. The whole matrix is one block of the
/// table (SOAP does not block), or none when no side is rotated. Every buffer is allocated here, once.
/// </remarks>
internal sealed class SoapParameterState<T> : ShampooParameterState where T : unmanaged, IFloatingPointIeee754<T>
{
    private const string ValueName = "value";
    private const string SoapPrefix = "soap.";

    private readonly int rows;
    private readonly int cols;
    private readonly EigenvalueCorrectedBlock<T> block;
    private readonly AlignedArray<T> gradient;
    private readonly AlignedArray<T> direction;
    private readonly int[] rescaled = new int[1];
    private bool updating;
    private double nextFirstMomentBound;

    public SoapParameterState(Parameter parameter, ShampooOptions options, BlasBackend? blas)
        : base(parameter, options)
    {
        try
        {
            rows = parameter.IsMatrix ? parameter.MatrixRows : parameter.Length;
            cols = parameter.IsMatrix ? parameter.MatrixCols : 1;
            var max = options.MaxPreconditionerDim;
            block = new EigenvalueCorrectedBlock<T>(rows, cols, parameter.IsMatrix && rows <= max, parameter.IsMatrix && cols <= max,
                options.EffectiveShampooBeta, blas);
            gradient = new AlignedArray<T>(parameter.Length);
            direction = new AlignedArray<T>(parameter.Length);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override int BlockCount => block.IsRotated ? 1 : 0;

    public override IPreconditioner Preconditioner => throw new InvalidOperationException(
        $"Parameter '{Parameter.Name}' uses the eigenvalue-corrected (SOAP) preconditioner, whose Adam moments change at every " +
        "direction, so it has no stand-alone IPreconditioner; read its state with ExportState().");

    public override MatrixBlock BlockArea(int block) => new(0, 0, 0, rows, cols);

    public override ReadOnlySpan<int> Rescaled => rescaled;

    /// <summary>Before step 2 (the first rotated step), then before every step t with (t − 2) a multiple of the frequency.</summary>
    public override bool IsRefreshStep(long step) =>
        block.IsRotated && step >= 2 && (step - 2) % Options.PreconditionFrequency == 0;

    public override void AccumulateStatistics(ReadOnlySpan<bool> owned, double magnitude)
    {
        if (Parameter.ElementType == ParameterPrecision.Single)
        {
            Precision.Convert<float, T>(Parameter.GetGradient<float>(), gradient.Span);
        }
        else
        {
            Precision.Convert<double, T>(Parameter.GetGradient<double>(), gradient.Span);
        }
    }

    public override bool UpdateIsCertainlyFinite(long step, bool precondition, bool refreshing, double learningRate, double magnitude,
        ReadOnlySpan<bool> owned)
    {
        var limit = Limit<T>();
        var cells = (double)rows * cols;
        // Statistics and second moment hold (1−β)·|G|² sums: room for max|g|²·m·n.
        if (!(magnitude <= limit && magnitude * magnitude * cells <= limit))
        {
            return false;
        }

        var o = Options;
        nextFirstMomentBound = (o.Beta1 * block.FirstMomentBound) + ((1 - o.Beta1) * magnitude);
        if (block.Count == 0)
        {
            return true; // the first step only accumulates
        }

        // |M'_ij| ≤ ‖M‖_F ≤ bound·√(mn) (orthonormal bases), √V' + ε ≥ ε, and rotating back keeps the Frobenius norm;
        // doubled for rounding.
        var directionBound = 2 * nextFirstMomentBound * cells / o.Epsilon;
        var scale = learningRate * StepScale(block.AdamSteps + 1);
        var values = Parameter.ElementType == ParameterPrecision.Single
            ? FiniteCheck.MaxMagnitude<float>(Parameter.GetValues<float>())
            : FiniteCheck.MaxMagnitude<double>(Parameter.GetValues<double>());
        var valueLimit = Parameter.ElementType == ParameterPrecision.Single ? Limit<float>() : Limit<double>();
        var next = (values + (scale * directionBound)) * Math.Abs(1 - (learningRate * o.WeightDecay));
        return nextFirstMomentBound <= limit && directionBound <= limit && next <= valueLimit;
    }

    public override void AdvanceBounds() => block.FirstMomentBound = nextFirstMomentBound;

    public override void MeasureBounds() => block.FirstMomentBound = MaxFirstMoment();

    public override RootRefreshResult RefreshBlock(int index) =>
        block.Refresh(full: Options.EigenbasisRefresh == EigenbasisRefresh.Eigendecomposition);

    public override void ComputeDirection(bool precondition, ReadOnlySpan<bool> owned)
    {
        // SOAP's first step sets up the statistics only: no direction, no update.
        updating = block.Count > 0;
        if (updating)
        {
            block.Direction(new ReadOnlyMatrixView<T>(gradient.Span, rows, cols), new MatrixView<T>(direction.Span, rows, cols),
                Options.Beta1, Options.Beta2, Options.Epsilon);
        }
        else
        {
            direction.Span.Clear();
        }
    }

    public override void ComputeGraftScales(bool precondition, Span<double> scales) => scales.Fill(1.0);

    public override void Update(long step, bool precondition, double learningRate, ReadOnlySpan<double> scales)
    {
        if (updating)
        {
            var scale = learningRate * StepScale(block.AdamSteps);
            var decay = 1 - (learningRate * Options.WeightDecay);
            if (Parameter.ElementType == ParameterPrecision.Single)
            {
                Apply(Parameter.GetValues<float>(), scale, decay);
            }
            else
            {
                Apply(Parameter.GetValues<double>(), scale, decay);
            }
        }

        block.Accumulate(new ReadOnlyMatrixView<T>(gradient.Span, rows, cols));
    }

    /// <summary>SOAP's step size factor √(1−β₂ᵏ)/(1−β₁ᵏ) with bias correction, else 1.</summary>
    private double StepScale(long k) => Options.BiasCorrection
        ? Math.Sqrt(1 - Math.Pow(Options.Beta2, k)) / (1 - Math.Pow(Options.Beta1, k))
        : 1.0;

    /// <summary>W ← (W − s·N)·(1 − η·λ), SOAP's order (decay after the step), in fp64 per element.</summary>
    private void Apply<TW>(Span<TW> w, double scale, double decay) where TW : unmanaged, IFloatingPointIeee754<TW>
    {
        var d = (ReadOnlySpan<T>)direction.Span;
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = TW.CreateTruncating((double.CreateTruncating(w[i]) - (scale * double.CreateTruncating(d[i]))) * decay);
        }
    }

    private double MaxFirstMoment() => FiniteCheck.MaxMagnitude<T>(block.FirstMoment);

    /// <summary>The largest magnitude the certainty test lets a value of <typeparamref name="TX"/> reach: 2^-16 of its largest finite value.</summary>
    private static double Limit<TX>() where TX : unmanaged, IFloatingPointIeee754<TX> =>
        Math.ScaleB(FiniteCheck.LargestFinite<TX>(), -16);

    public override unsafe int DirectionBlockBytes(int index) => rows * cols * sizeof(T);

    public override void ReadDirectionBlock(int index, Span<byte> destination) =>
        MemoryMarshal.AsBytes(direction.Span).CopyTo(destination);

    public override void WriteDirectionBlock(int index, ReadOnlySpan<byte> source) =>
        source.CopyTo(MemoryMarshal.AsBytes(direction.Span));

    public override IReadOnlyList<StateTensor> ExportBlock(int index) => block.ExportState();

    public override void ImportBlock(int index, IReadOnlyList<StateTensor> state) => block.ImportState(state);

    public override void Export(List<StateTensor> into, string prefix)
    {
        into.Add(Parameter.ElementType == ParameterPrecision.Single
            ? StateTensor.From<float>(prefix + ValueName, Parameter.GetValues<float>(), [.. Parameter.Shape])
            : StateTensor.From<double>(prefix + ValueName, Parameter.GetValues<double>(), [.. Parameter.Shape]));
        StateTransfer.AddPrefixed(into, prefix + SoapPrefix, block.ExportState());
    }

    public override void Import(IReadOnlyList<StateTensor> state)
    {
        var value = StateTransfer.Find(state, ValueName);
        block.ImportState(StateTransfer.Under(state, SoapPrefix));
        if (Parameter.ElementType == ParameterPrecision.Single)
        {
            Precision.Convert<double, float>(value.Data, Parameter.GetValues<float>());
        }
        else
        {
            Precision.Convert<double, double>(value.Data, Parameter.GetValues<double>());
        }
    }

    public override void Dispose()
    {
        block?.Dispose();
        gradient?.Dispose();
        direction?.Dispose();
    }
}
