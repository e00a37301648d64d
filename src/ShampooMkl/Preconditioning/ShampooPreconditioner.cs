using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Preconditioning;

/// <summary>Shampoo for one m×n block: Kronecker statistics, their inverse roots, and D = s·L^{-1/p}·G·R^{-1/p}.</summary>
/// <remarks>
/// <typeparamref name="T"/> is the precision of the statistics and roots (fp32 or fp64); gradients may come in
/// either precision. Roots are always computed in fp64 (see <see cref="InverseRoot"/>). Until the first
/// successful refresh the roots are the identity, so <see cref="Precondition(ReadOnlySpan{float}, Span{float})"/>
/// returns the gradient unchanged. All buffers are allocated at construction: updates and preconditioning
/// allocate nothing.
/// </remarks>
public sealed class ShampooPreconditioner<T> : IPreconditioner where T : unmanaged, IFloatingPointIeee754<T>
{
    private bool disposed;
    private readonly ShampooPreconditionerOptions options;
    private readonly BlasBackend? blas;
    private readonly KroneckerFactors<T> factors;
    private readonly AlignedArray<T> leftRoot;
    private readonly AlignedArray<T> rightRoot;
    private readonly AlignedArray<T> product;
    // Only needed when gradients arrive in the other precision; allocated on first such call, then reused.
    private AlignedArray<T>? converted;
    private AlignedArray<T>? convertedOut;
    private readonly InverseRoot leftSolver;
    private readonly InverseRoot rightSolver;

    /// <summary>Creates an empty preconditioner for an m×n block.</summary>
    public ShampooPreconditioner(int rows, int cols, ShampooPreconditionerOptions? options = null, BlasBackend? blas = null)
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"Statistics must be float or double, not {typeof(T).Name}.");
        }

        this.options = options ?? ShampooPreconditionerOptions.Shampoo;
        this.options.Validate();
        this.blas = blas;
        factors = new KroneckerFactors<T>(rows, cols, this.options.Beta2, blas);
        leftRoot = new AlignedArray<T>(rows * rows);
        rightRoot = new AlignedArray<T>(cols * cols);
        product = new AlignedArray<T>(rows * cols);
        leftSolver = new InverseRoot(rows, blas);
        rightSolver = new InverseRoot(cols, blas);
        Epsilon = this.options.Epsilon;
    }

    /// <inheritdoc />
    public int Rows => factors.Rows;

    /// <inheritdoc />
    public int Cols => factors.Cols;

    /// <inheritdoc />
    public long UpdateCount => factors.Count;

    /// <inheritdoc />
    public bool HasRoots { get; private set; }

    /// <summary>The options this block was built with.</summary>
    public ShampooPreconditionerOptions Options => options;

    /// <summary>The statistics.</summary>
    internal KroneckerFactors<T> Factors => factors;

    /// <summary>The ε currently in force (grows after failed refreshes).</summary>
    public double Epsilon { get; private set; }

    /// <summary>Refreshes done (successful or not).</summary>
    public long Refreshes { get; private set; }

    /// <summary>Failed refreshes (previous roots kept).</summary>
    public long FailedRefreshes { get; private set; }

    /// <summary>The scalar s multiplying L^{-1/p}·G·R^{-1/p}, fixed at the last successful refresh.</summary>
    public double DirectionScale { get; private set; } = 1.0;

    /// <summary>L^{-1/p} as of the last successful refresh.</summary>
    public ReadOnlySpan<T> LeftRoot => leftRoot.Span;

    /// <summary>R^{-1/p} as of the last successful refresh.</summary>
    public ReadOnlySpan<T> RightRoot => rightRoot.Span;

    /// <inheritdoc />
    public void Update(ReadOnlySpan<float> gradient) => Update<float>(gradient);

    /// <inheritdoc />
    public void Update(ReadOnlySpan<double> gradient) => Update<double>(gradient);

    private void Update<TIn>(ReadOnlySpan<TIn> gradient) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        ThrowIfDisposed();
        GradientGuard.Check(gradient, Rows * Cols, Rows, Cols);
        var g = AsT(gradient);
        UpdateCore(g, FiniteCheck.MaxMagnitude<T>(g.Data));
    }

    /// <summary>Accumulates a validated gradient view (possibly strided into a larger matrix) whose elements are at most
    /// <paramref name="magnitude"/> in absolute value; returns k when the statistics' scale had to grow by 2^k, else 0.</summary>
    /// <remarks>When the stored L and R would leave <typeparamref name="T"/>'s range (fp32 statistics of gradients near
    /// 1e19, or sums that grew that far), the block keeps its statistics as 2^e times the stored factors
    /// (<see cref="KroneckerFactors{T}.Exponent"/>): the stored factors are multiplied by 2^-k, e grows by k, and from then
    /// on each gradient is accumulated as 2^{-e/2}·G (in a scratch buffer). The roots use ε·2^-e and fold 2^{-2e/p} into
    /// the direction scale, so the preconditioner is the same operator as without the rescale, up to rounding (and
    /// entries that fall below T's smallest normal value). With e = 0, as in normal training, updates run exactly as before.</remarks>
    internal int UpdateCore(ReadOnlyMatrixView<T> gradient, double magnitude)
    {
        var k = factors.OverflowExponent(magnitude);
        if (k > 0)
        {
            factors.Rescale(k);
        }

        if (factors.Exponent == 0)
        {
            factors.Accumulate(gradient);
            return 0;
        }

        var scaled = new MatrixView<T>(product.Span, Rows, Cols);
        var half = T.CreateTruncating(Math.ScaleB(1.0, -factors.Exponent / 2));
        for (var i = 0; i < Rows; i++)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply<T>(gradient.Row(i), half, scaled.Row(i));
        }

        factors.Accumulate(scaled.AsReadOnly());
        return k;
    }

    /// <inheritdoc />
    public void Precondition(ReadOnlySpan<float> gradient, Span<float> direction) => Precondition<float>(gradient, direction);

    /// <inheritdoc />
    public void Precondition(ReadOnlySpan<double> gradient, Span<double> direction) => Precondition<double>(gradient, direction);

    private void Precondition<TIn>(ReadOnlySpan<TIn> gradient, Span<TIn> direction) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        ThrowIfDisposed();
        GradientGuard.CheckLengths(gradient, direction, Rows * Cols);
        var g = AsT(gradient);
        if (typeof(TIn) == typeof(T))
        {
            PreconditionCore(g, new MatrixView<T>(MemoryMarshal.Cast<TIn, T>(direction), Rows, Cols));
        }
        else
        {
            convertedOut ??= new AlignedArray<T>(Rows * Cols);
            PreconditionCore(g, new MatrixView<T>(convertedOut.Span, Rows, Cols));
            Precision.Convert<T, TIn>(convertedOut.Span, direction);
        }
    }

    /// <summary>D ← s·L^{-1/p}·G·R^{-1/p} on validated views (possibly strided into larger matrices).</summary>
    internal void PreconditionCore(ReadOnlyMatrixView<T> gradient, MatrixView<T> direction)
    {
        if (!HasRoots)
        {
            for (var i = 0; i < Rows; i++)
            {
                gradient.Row(i).CopyTo(direction.Row(i));
            }

            return;
        }

        var temp = new MatrixView<T>(product.Span, Rows, Cols);
        MatrixProduct.Multiply(new ReadOnlyMatrixView<T>(leftRoot.Span, Rows, Rows), false, gradient, false, temp, T.One, T.Zero, blas);
        MatrixProduct.Multiply(temp, false, new ReadOnlyMatrixView<T>(rightRoot.Span, Cols, Cols), false, direction,
            T.CreateTruncating(DirectionScale), T.Zero, blas);
    }

    /// <inheritdoc />
    public RootRefreshResult RefreshRoots()
    {
        ThrowIfDisposed();
        Refreshes++;
        var method = options.RootMethod;
        if (method == InverseRootMethod.EigenbasisWarmStart && (Refreshes - 1) % options.FullEigendecompositionEvery == 0)
        {
            // Every K-th refresh (the first included) is a full syevd, so warm-start drift cannot accumulate;
            // without a basis the solver decomposes fully and keeps the new basis for the next warm start.
            leftSolver.ResetEigenbasis();
            rightSolver.ResetEigenbasis();
        }

        // Bias correction: (L/c + εI)^{-1/p} = c^{1/p}·(L + cεI)^{-1/p}, so the factors are never copied.
        var correction = options.BiasCorrection ? factors.BiasCorrection : 1.0;
        // Statistics kept as 2^e·L: (2^e·L/c + εI)^{-1/p} = 2^{-e/p}·(L/c + 2^-e·εI)^{-1/p} (e = 0: no change).
        var exponent = factors.Exponent;
        var eps = exponent == 0 ? Epsilon * correction : Math.ScaleB(Epsilon * correction, -exponent);
        using var leftNew = BufferPool.Shared.Rent<T>(Rows * Rows);
        using var rightNew = BufferPool.Shared.Rent<T>(Cols * Cols);
        var leftStatus = leftSolver.Compute<T>(factors.Left, options.Root, eps, new MatrixView<T>(leftNew.Span, Rows, Rows), method);
        var rightStatus = leftStatus == InverseRootStatus.Success
            ? rightSolver.Compute<T>(factors.Right, options.Root, eps, new MatrixView<T>(rightNew.Span, Cols, Cols), method)
            : InverseRootStatus.Success;
        var scale = Math.Pow(correction, 2.0 / options.Root);
        if (options.TraceNormalized)
        {
            scale *= Math.Pow(factors.Trace / correction, 1.0 / options.Root);
        }

        if (exponent != 0)
        {
            // 2^{-e/p} from each root, 2^{e/p} from the trace.
            scale *= Math.Pow(2.0, (options.TraceNormalized ? -1.0 : -2.0) * exponent / options.Root);
        }

        // The scale multiplies every direction in T: one that is not a positive finite T is a failed refresh too.
        if (leftStatus == InverseRootStatus.Success && rightStatus == InverseRootStatus.Success &&
            !(scale > 0 && scale <= FiniteCheck.LargestFinite<T>()))
        {
            rightStatus = InverseRootStatus.NonFiniteResult;
        }

        if (leftStatus == InverseRootStatus.NonFiniteInput || rightStatus == InverseRootStatus.NonFiniteInput)
        {
            // Statistics that are not finite (which the optimizer's rescaling prevents) would fail every later refresh:
            // start them again from zero rather than never recover.
            factors.Clear();
        }

        if (leftStatus != InverseRootStatus.Success || rightStatus != InverseRootStatus.Success)
        {
            // Keep the previous pair (never mix an old L-root with a new R-root) and make the next attempt better conditioned.
            FailedRefreshes++;
            // Capped so that ε itself stays finite however many refreshes fail.
            Epsilon = Math.Min(Epsilon * options.EpsilonGrowthOnFailure, double.MaxValue);
            if (Epsilon == 0)
            {
                Epsilon = 1e-12;
            }

            var left = leftStatus != InverseRootStatus.Success;
            return new RootRefreshFailure(Rows, Cols, left, left ? leftStatus : rightStatus, Epsilon).ToResult();
        }

        leftNew.Span.CopyTo(leftRoot.Span);
        rightNew.Span.CopyTo(rightRoot.Span);
        DirectionScale = scale;
        HasRoots = true;
        DirectionGain = MeasureDirectionGain();
        return new RootRefreshResult(true, 1, 0, null);
    }

    /// <summary>An upper bound of ‖D‖_F / ‖G‖_F with the roots in force: s·‖Ľ‖_F·‖Ř‖_F (1 before the first refresh).</summary>
    internal double DirectionGain { get; private set; } = 1.0;

    /// <summary>An upper bound of <see cref="DirectionGain"/> after this step's update and refresh, whatever the refresh's
    /// outcome, known before either runs: every eigenvalue of (L/c + εI)^{-1/p} is at most ε^{-1/p}.</summary>
    /// <param name="traceBound">An upper bound of Tr L after the update.</param>
    internal double DirectionGainBound(double traceBound)
    {
        var c = options.BiasCorrection && options.Beta2 < 1.0 ? 1.0 - Math.Pow(options.Beta2, factors.Count + 1) : 1.0;
        var rootBound = Math.Pow(Epsilon * c, -1.0 / options.Root) * Math.Pow(c, 1.0 / options.Root);
        var scale = options.TraceNormalized ? Math.Pow(traceBound / c, 1.0 / options.Root) : 1.0;
        var fresh = scale * Math.Sqrt(Rows) * rootBound * Math.Sqrt(Cols) * rootBound;
        return double.IsNaN(fresh) ? double.PositiveInfinity : Math.Max(DirectionGain, fresh);
    }

    private double MeasureDirectionGain() => !HasRoots ? 1.0 :
        DirectionScale * Math.Sqrt(FixedOrderSum.SumOfSquares<T>(leftRoot.Span)) * Math.Sqrt(FixedOrderSum.SumOfSquares<T>(rightRoot.Span));

    private ReadOnlyMatrixView<T> AsT<TIn>(ReadOnlySpan<TIn> gradient) where TIn : unmanaged
    {
        if (typeof(TIn) == typeof(T))
        {
            return new ReadOnlyMatrixView<T>(MemoryMarshal.Cast<TIn, T>(gradient), Rows, Cols);
        }

        converted ??= new AlignedArray<T>(Rows * Cols);
        Precision.Convert(gradient, converted.Span);
        return new ReadOnlyMatrixView<T>(converted.Span, Rows, Cols);
    }

    /// <inheritdoc />
    public IReadOnlyList<StateTensor> ExportState()
    {
        ThrowIfDisposed();
        return ExportState(string.Empty);
    }

    internal IReadOnlyList<StateTensor> ExportState(string prefix) =>
    [
        StateTensor.From<T>(prefix + "L", factors.Left.Data, Rows, Rows),
        StateTensor.From<T>(prefix + "R", factors.Right.Data, Cols, Cols),
        StateTensor.From<T>(prefix + "Lroot", leftRoot.Span, Rows, Rows),
        StateTensor.From<T>(prefix + "Rroot", rightRoot.Span, Cols, Cols),
        StateTensor.From<double>(prefix + "Lbasis", leftSolver.Eigenbasis, leftSolver.Eigenbasis.Length),
        StateTensor.From<double>(prefix + "Rbasis", rightSolver.Eigenbasis, rightSolver.Eigenbasis.Length),
        StateTensor.Scalar(prefix + "updates", factors.Count),
        StateTensor.Scalar(prefix + "refreshes", Refreshes),
        StateTensor.Scalar(prefix + "failedRefreshes", FailedRefreshes),
        StateTensor.Scalar(prefix + "epsilon", Epsilon),
        StateTensor.Scalar(prefix + "scale", DirectionScale),
        StateTensor.Scalar(prefix + "hasRoots", HasRoots ? 1 : 0),
        StateTensor.Scalar(prefix + "statisticsExponent", factors.Exponent),
    ];

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state) => ImportState(state, string.Empty);

    internal void ImportState(IReadOnlyList<StateTensor> state, string prefix)
    {
        ThrowIfDisposed();
        // Validate everything before changing anything.
        ValidateState(state, prefix);
        var l = StateTensorLookup.Require(state, prefix + "L", Rows * Rows);
        var r = StateTensorLookup.Require(state, prefix + "R", Cols * Cols);
        var lr = StateTensorLookup.Require(state, prefix + "Lroot", Rows * Rows);
        var rr = StateTensorLookup.Require(state, prefix + "Rroot", Cols * Cols);
        var lb = FindOptional(state, prefix + "Lbasis", Rows * Rows);
        var rb = FindOptional(state, prefix + "Rbasis", Cols * Cols);
        var updates = StateTensorLookup.Scalar(state, prefix + "updates");
        var refreshes = StateTensorLookup.Scalar(state, prefix + "refreshes");
        var failed = StateTensorLookup.Scalar(state, prefix + "failedRefreshes");
        var eps = StateTensorLookup.Scalar(state, prefix + "epsilon");
        var scale = StateTensorLookup.Scalar(state, prefix + "scale");
        var hasRoots = StateTensorLookup.Scalar(state, prefix + "hasRoots");
        var exponent = StateTensorLookup.Scalar(state, prefix + "statisticsExponent");
        factors.Restore(l.Data, r.Data, (long)updates, (int)exponent);
        Precision.Convert<double, T>(lr.Data, leftRoot.Span);
        Precision.Convert<double, T>(rr.Data, rightRoot.Span);
        leftSolver.RestoreEigenbasis(lb);
        rightSolver.RestoreEigenbasis(rb);
        Refreshes = (long)refreshes;
        FailedRefreshes = (long)failed;
        Epsilon = eps;
        DirectionScale = scale;
        HasRoots = hasRoots != 0;
        DirectionGain = MeasureDirectionGain();
    }

    /// <summary>Runs every check <see cref="ImportState(IReadOnlyList{StateTensor}, string)"/> runs, without changing
    /// anything, so a container of blocks can check all of them before importing any.</summary>
    /// <exception cref="InvalidDataException">Missing tensors, wrong sizes, non-finite values or out-of-range counters.</exception>
    internal void ValidateState(IReadOnlyList<StateTensor> state, string prefix)
    {
        StateTensorLookup.Require(state, prefix + "L", Rows * Rows);
        StateTensorLookup.Require(state, prefix + "R", Cols * Cols);
        StateTensorLookup.Require(state, prefix + "Lroot", Rows * Rows);
        StateTensorLookup.Require(state, prefix + "Rroot", Cols * Cols);
        FindOptional(state, prefix + "Lbasis", Rows * Rows);
        FindOptional(state, prefix + "Rbasis", Cols * Cols);
        var updates = StateTensorLookup.Scalar(state, prefix + "updates");
        var refreshes = StateTensorLookup.Scalar(state, prefix + "refreshes");
        var failed = StateTensorLookup.Scalar(state, prefix + "failedRefreshes");
        var eps = StateTensorLookup.Scalar(state, prefix + "epsilon");
        var scale = StateTensorLookup.Scalar(state, prefix + "scale");
        StateTensorLookup.Scalar(state, prefix + "hasRoots");
        var exponent = StateTensorLookup.Scalar(state, prefix + "statisticsExponent");
        if (!(exponent >= 0 && exponent <= 1 << 20 && exponent % 2 == 0))
        {
            throw new InvalidDataException($"State of the {Rows}×{Cols} block '{prefix}' has statistics exponent {exponent}; it must be an even integer ≥ 0.");
        }

        if (updates < 0 || refreshes < 0 || failed < 0 || eps < 0 || !(scale > 0))
        {
            throw new InvalidDataException($"State of the {Rows}×{Cols} block '{prefix}' has out-of-range counters.");
        }
    }

    private static double[] FindOptional(IReadOnlyList<StateTensor> state, string name, int length)
    {
        foreach (var t in state)
        {
            if (t.Name == name)
            {
                if (t.Data.Length != 0 && t.Data.Length != length)
                {
                    throw new InvalidDataException($"State tensor '{name}' has {t.Data.Length} values, expected 0 or {length}.");
                }

                if (!FiniteCheck.All<double>(t.Data))
                {
                    throw new InvalidDataException($"State tensor '{name}' holds NaN or infinite values.");
                }

                return t.Data;
            }
        }

        return [];
    }

    /// <summary>Frees all native buffers.</summary>
    public void Dispose()
    {
        disposed = true;
        factors.Dispose();
        leftRoot.Dispose();
        rightRoot.Dispose();
        product.Dispose();
        converted?.Dispose();
        convertedOut?.Dispose();
        leftSolver.Dispose();
        rightSolver.Dispose();
    }

    /// <summary>Names this type, not a native buffer, when used after <see cref="Dispose"/>.</summary>
    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
