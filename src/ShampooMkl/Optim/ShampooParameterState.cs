using ShampooMkl.Linalg;
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

    /// <summary>Where one Kronecker block lies in the parameter's matrix view.</summary>
    public abstract MatrixBlock BlockArea(int block);

    /// <summary>(b) Copies the validated gradient (max |g| = <paramref name="magnitude"/>) into the factor precision
    /// and accumulates every statistic, the Kronecker factors only of the blocks marked in <paramref name="owned"/>
    /// (all of them when it is empty); a block whose statistics had to be rescaled to stay finite is listed in
    /// <see cref="Rescaled"/>.</summary>
    public abstract void AccumulateStatistics(ReadOnlySpan<bool> owned, double magnitude);

    /// <summary>Per block, k when the last <see cref="AccumulateStatistics"/> rescaled its statistics by 2^-k, else 0.</summary>
    public abstract ReadOnlySpan<int> Rescaled { get; }

    /// <summary>Whether this step's update is certain, from bounds known before anything changes, to leave every value,
    /// momentum and accumulator finite (false means: run the step checked, so it can be undone).</summary>
    /// <remarks>Bounds: |σD_i| ≤ ‖P_b‖_F ≤ (bound of |P_i|)·√(cells) for a grafted block, s·‖Ľ‖_F·‖Ř‖_F·max|g|·√(cells)
    /// without grafting (new roots bounded by ε^{-1/p}); |m'| ≤ β₁·(bound of |m|) + (1−β₁)·|σD|; |W'| ≤ |W|·|1 − ηλ| + η·|u|.
    /// Costs one read of the values (max |W|, which the caller may change between steps).</remarks>
    public abstract bool UpdateIsCertainlyFinite(long step, bool precondition, bool refreshing, double learningRate, double magnitude,
        ReadOnlySpan<bool> owned);

    /// <summary>After a step <see cref="UpdateIsCertainlyFinite"/> certified: the momentum bound becomes the step's.</summary>
    public abstract void AdvanceBounds();

    /// <summary>Measures the momentum bound exactly (after a checked step, or an import).</summary>
    public abstract void MeasureBounds();

    /// <summary>(c) Whether this parameter's blocks refresh at <paramref name="step"/>: at the start step and at every
    /// multiple of <see cref="ShampooOptions.PreconditionFrequency"/> after it (SOAP has its own schedule).</summary>
    public virtual bool IsRefreshStep(long step)
    {
        var start = Options.EffectiveStartPreconditioningStep;
        return BlockCount > 0 && (step == start || (step > start && step % Options.PreconditionFrequency == 0));
    }

    /// <summary>(c) Recomputes the roots of one block; safe to call for different blocks concurrently.</summary>
    public abstract RootRefreshResult RefreshBlock(int block);

    /// <summary>(d) The direction before grafting: the grafting method's step before preconditioning starts, else the
    /// preconditioned gradient of the blocks marked in <paramref name="owned"/> (all when empty) and of a vector.</summary>
    public abstract void ComputeDirection(bool precondition, ReadOnlySpan<bool> owned);

    /// <summary>Entries of <see cref="ComputeGraftScales"/>'s output: one per block, or one for a vector.</summary>
    public int GraftScaleCount => Math.Max(BlockCount, 1);

    /// <summary>Graft stage: each block's grafting scale (1 without grafting or before preconditioning starts) into
    /// <paramref name="scales"/> (<see cref="GraftScaleCount"/> long), read by <see cref="Update"/>.</summary>
    public abstract void ComputeGraftScales(bool precondition, Span<double> scales);

    /// <summary>Update stage: momentum, weight decay and the parameter update, each block's direction scaled by its
    /// grafting scale as it is read (no separate pass).</summary>
    public abstract void Update(long step, bool precondition, double learningRate, ReadOnlySpan<double> scales);

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
        (options.IsEigenvalueCorrected, options.FactorPrecision) switch
        {
            (true, FactorPrecision.Double) => new SoapParameterState<double>(parameter, options, blas),
            (true, _) => new SoapParameterState<float>(parameter, options, blas),
            (false, FactorPrecision.Double) => new ShampooParameterState<double>(parameter, options, blas),
            _ => new ShampooParameterState<float>(parameter, options, blas),
        };
}

