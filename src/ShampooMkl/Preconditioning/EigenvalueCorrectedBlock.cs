using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Preconditioning;

/// <summary>The state and arithmetic of eigenvalue-corrected Shampoo (SOAP, Vyas et al. 2024) for one m×n matrix: Adam
/// run in the eigenbasis of Shampoo's factors L and R.</summary>
/// <remarks>
/// <para>A side of at most the preconditioner limit keeps its factor (L ← β·L + (1−β)·G·Gᵀ, or R from Gᵀ·G) and an
/// orthonormal basis B (k×k, row-major, row i the i-th basis vector, so Q = Bᵀ in the paper's notation); a longer side
/// (or a vector's second side) keeps neither and is not rotated, so a vector, or a matrix with both sides too long, is
/// plain Adam. The rotation of X is X' = B_L·X·B_Rᵀ (= Q_Lᵀ·X·Q_R), its inverse B_Lᵀ·X'·B_R.</para>
/// <para>Direction: M ← β₁M + (1−β₁)G (in the original space), V' ← β₂V' + (1−β₂)(G')², N = rotate⁻¹(M' / (√V' + ε))
/// with M' = rotate(M). The first basis is a full eigendecomposition, eigenvalues descending; later ones, unless a
/// full one is asked for, are one power step from the current basis: the estimated eigenvalues diag(B·A·Bᵀ) are
/// sorted descending, the basis rows and V' along that side permuted accordingly, then B ← rows orthonormalised
/// (Householder QR) of B·A (= (A·Q)ᵀ). All buffers are allocated in the constructor; no method allocates.</para>
/// <para>Not thread-safe; the optimizer gives each block to one thread at a time.</para>
/// </remarks>
internal sealed class EigenvalueCorrectedBlock<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly BlasBackend? blas;
    private readonly Side? left;
    private readonly Side? right;
    private readonly AlignedArray<T> first;
    private readonly AlignedArray<T> second;
    private readonly AlignedArray<T> rotated;
    private readonly AlignedArray<T> half;

    /// <summary>Zero state for an m×n matrix (a vector: n = 1 with both sides off).</summary>
    /// <param name="rows">m ≥ 1.</param>
    /// <param name="cols">n ≥ 1.</param>
    /// <param name="leftSide">Whether L is kept and the rows are rotated.</param>
    /// <param name="rightSide">Whether R is kept and the columns are rotated.</param>
    /// <param name="statisticsBeta">β of the factors' EMA, in (0, 1).</param>
    /// <param name="blas">The backend; null means the default.</param>
    public EigenvalueCorrectedBlock(int rows, int cols, bool leftSide, bool rightSide, double statisticsBeta, BlasBackend? blas)
    {
        Rows = rows;
        Cols = cols;
        StatisticsBeta = statisticsBeta;
        this.blas = blas;
        try
        {
            left = leftSide ? new Side(rows, blas) : null;
            right = rightSide ? new Side(cols, blas) : null;
            first = new AlignedArray<T>(rows * cols);
            second = new AlignedArray<T>(rows * cols);
            rotated = new AlignedArray<T>(rows * cols);
            half = new AlignedArray<T>(rows * cols);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>m.</summary>
    public int Rows { get; }

    /// <summary>n.</summary>
    public int Cols { get; }

    /// <summary>β of the factors' EMA.</summary>
    public double StatisticsBeta { get; }

    /// <summary>Whether any side is rotated (false: plain Adam).</summary>
    public bool IsRotated => left is not null || right is not null;

    /// <summary>Gradients accumulated into the statistics (SOAP's first step only accumulates).</summary>
    public long Count { get; private set; }

    /// <summary>Adam steps taken (the t of the bias corrections).</summary>
    public long AdamSteps { get; private set; }

    /// <summary>Whether the bases have been computed (before that they are the identity).</summary>
    public bool HasBasis { get; private set; }

    /// <summary>M, the first moment in the original space (read-only view).</summary>
    public ReadOnlySpan<T> FirstMoment => first.Span;

    /// <summary>An upper bound of max |M| (exact after an import).</summary>
    public double FirstMomentBound { get; set; }

    /// <summary>L ← β·L + (1−β)·G·Gᵀ and R ← β·R + (1−β)·Gᵀ·G for the kept sides; counts the gradient.</summary>
    public void Accumulate(ReadOnlyMatrixView<T> gradient)
    {
        var alpha = T.CreateTruncating(1.0 - StatisticsBeta);
        var beta = T.CreateTruncating(StatisticsBeta);
        if (left is not null)
        {
            SymmetricRankUpdate.Update(gradient, transpose: false, left.FactorView, alpha, beta, mirrorLower: true, blas);
        }

        if (right is not null)
        {
            SymmetricRankUpdate.Update(gradient, transpose: true, right.FactorView, alpha, beta, mirrorLower: true, blas);
        }

        Count++;
    }

    /// <summary>Recomputes the bases: by eigendecomposition the first time or when <paramref name="full"/>, else by one
    /// sorted power step with QR. A side whose new basis fails (LAPACK info ≠ 0 or a non-finite value) keeps its
    /// previous basis and V' unchanged; the result names it.</summary>
    public RootRefreshResult Refresh(bool full)
    {
        var eigen = full || !HasBasis;
        var failures = 0;
        string? detail = null;
        RefreshSide(left, "L", isLeft: true, eigen, ref failures, ref detail);
        RefreshSide(right, "R", isLeft: false, eigen, ref failures, ref detail);
        HasBasis = true;
        return failures == 0
            ? new RootRefreshResult(true, 1, 0, null)
            : new RootRefreshResult(false, 1, 1, detail);
    }

    private void RefreshSide(Side? side, string name, bool isLeft, bool eigen, ref int failures, ref string? detail)
    {
        if (side is null)
        {
            return;
        }

        var info = eigen ? side.Eigendecompose() : side.PowerStep(this, isLeft);
        if (info != 0)
        {
            failures++;
            detail ??= $"eigenbasis of {name} failed ({(eigen ? "syevd" : "geqrf/orgqr")} info={info}, or a non-finite value); the previous basis is kept";
        }
    }

    /// <summary>One Adam step in the rotated space: updates M and V' and writes N = rotate⁻¹(M'/(√V'+ε)) into
    /// <paramref name="direction"/>.</summary>
    public void Direction(ReadOnlyMatrixView<T> gradient, MatrixView<T> direction, double beta1, double beta2, double epsilon)
    {
        AdamSteps++;
        var m = first.Span;
        var v = second.Span;
        var g = gradient.Data;
        var b1 = T.CreateTruncating(beta1);
        var a1 = T.CreateTruncating(1.0 - beta1);
        var b2 = T.CreateTruncating(beta2);
        var a2 = T.CreateTruncating(1.0 - beta2);
        var eps = T.CreateTruncating(epsilon);
        for (var i = 0; i < m.Length; i++)
        {
            m[i] = (b1 * m[i]) + (a1 * g[i]);
        }

        var r = rotated.Span;
        Rotate(gradient, new MatrixView<T>(r, Rows, Cols));
        for (var i = 0; i < v.Length; i++)
        {
            v[i] = (b2 * v[i]) + (a2 * r[i] * r[i]);
        }

        Rotate(new ReadOnlyMatrixView<T>(m, Rows, Cols), new MatrixView<T>(r, Rows, Cols));
        for (var i = 0; i < r.Length; i++)
        {
            r[i] /= T.Sqrt(v[i]) + eps;
        }

        RotateBack(new ReadOnlyMatrixView<T>(r, Rows, Cols), direction);
    }

    /// <summary>X' = B_L·X·B_Rᵀ (the identity on a side without basis).</summary>
    private void Rotate(ReadOnlyMatrixView<T> x, MatrixView<T> result)
    {
        var h = new MatrixView<T>(half.Span, Rows, Cols);
        if (left is not null && right is not null)
        {
            MatrixProduct.Multiply(left.BasisView, false, x, false, h, T.One, T.Zero, blas);
            MatrixProduct.Multiply(h, false, right.BasisView, true, result, T.One, T.Zero, blas);
        }
        else if (left is not null)
        {
            MatrixProduct.Multiply(left.BasisView, false, x, false, result, T.One, T.Zero, blas);
        }
        else if (right is not null)
        {
            MatrixProduct.Multiply(x, false, right.BasisView, true, result, T.One, T.Zero, blas);
        }
        else
        {
            x.Data.CopyTo(result.Data);
        }
    }

    /// <summary>X = B_Lᵀ·X'·B_R.</summary>
    private void RotateBack(ReadOnlyMatrixView<T> x, MatrixView<T> result)
    {
        var h = new MatrixView<T>(half.Span, Rows, Cols);
        if (left is not null && right is not null)
        {
            MatrixProduct.Multiply(left.BasisView, true, x, false, h, T.One, T.Zero, blas);
            MatrixProduct.Multiply(h, false, right.BasisView, false, result, T.One, T.Zero, blas);
        }
        else if (left is not null)
        {
            MatrixProduct.Multiply(left.BasisView, true, x, false, result, T.One, T.Zero, blas);
        }
        else if (right is not null)
        {
            MatrixProduct.Multiply(x, false, right.BasisView, false, result, T.One, T.Zero, blas);
        }
        else
        {
            x.Data.CopyTo(result.Data);
        }
    }

    /// <summary>Reorders V' along one side: row (left) or column (right) i of the result is <paramref name="order"/>[i] of the input.</summary>
    private void PermuteSecondMoment(ReadOnlySpan<int> order, bool isLeft)
    {
        var v = second.Span;
        var t = rotated.Span;
        v.CopyTo(t);
        for (var i = 0; i < Rows; i++)
        {
            for (var j = 0; j < Cols; j++)
            {
                v[(i * Cols) + j] = isLeft ? t[(order[i] * Cols) + j] : t[(i * Cols) + order[j]];
            }
        }
    }

    /// <summary>The state, names without prefix: <c>L</c>, <c>R</c>, <c>Lbasis</c>, <c>Rbasis</c> (kept sides only),
    /// <c>firstMoment</c>, <c>secondMoment</c>, <c>updates</c>, <c>adamSteps</c>, <c>hasBasis</c>.</summary>
    public List<StateTensor> ExportState()
    {
        var list = new List<StateTensor>();
        if (left is not null)
        {
            list.Add(StateTensor.From<T>("L", left.Factor.Span, Rows, Rows));
            list.Add(StateTensor.From<T>("Lbasis", left.Basis.Span, Rows, Rows));
        }

        if (right is not null)
        {
            list.Add(StateTensor.From<T>("R", right.Factor.Span, Cols, Cols));
            list.Add(StateTensor.From<T>("Rbasis", right.Basis.Span, Cols, Cols));
        }

        list.Add(StateTensor.From<T>("firstMoment", first.Span, Rows, Cols));
        list.Add(StateTensor.From<T>("secondMoment", second.Span, Rows, Cols));
        list.Add(StateTensor.Scalar("updates", Count));
        list.Add(StateTensor.Scalar("adamSteps", AdamSteps));
        list.Add(StateTensor.Scalar("hasBasis", HasBasis ? 1 : 0));
        return list;
    }

    /// <summary>Replaces the state by an exported one (the caller checked names and shapes); all values are checked first.</summary>
    /// <exception cref="InvalidDataException">A non-finite value, a negative second moment or a bad counter.</exception>
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        static StateTensor Find(IReadOnlyList<StateTensor> s, string name) =>
            s.FirstOrDefault(t => t.Name == name) ?? throw new InvalidDataException($"SOAP state '{name}' is missing.");
        foreach (var t in state)
        {
            if (!FiniteCheck.All<double>(t.Data))
            {
                throw new InvalidDataException($"SOAP state '{t.Name}' holds a NaN or infinite value.");
            }
        }

        var secondMoment = Find(state, "secondMoment");
        if (secondMoment.Data.Any(x => x < 0))
        {
            throw new InvalidDataException("SOAP state 'secondMoment' holds a negative value.");
        }

        var count = Find(state, "updates").Data[0];
        var steps = Find(state, "adamSteps").Data[0];
        if (count < 0 || steps < 0 || count != Math.Floor(count) || steps != Math.Floor(steps))
        {
            throw new InvalidDataException("SOAP state counters must be non-negative integers.");
        }

        if (left is not null)
        {
            Precision.Convert<double, T>(Find(state, "L").Data, left.Factor.Span);
            Precision.Convert<double, T>(Find(state, "Lbasis").Data, left.Basis.Span);
        }

        if (right is not null)
        {
            Precision.Convert<double, T>(Find(state, "R").Data, right.Factor.Span);
            Precision.Convert<double, T>(Find(state, "Rbasis").Data, right.Basis.Span);
        }

        Precision.Convert<double, T>(Find(state, "firstMoment").Data, first.Span);
        Precision.Convert<double, T>(secondMoment.Data, second.Span);
        Count = (long)count;
        AdamSteps = (long)steps;
        HasBasis = Find(state, "hasBasis").Data[0] != 0;
        FirstMomentBound = FiniteCheck.MaxMagnitude<T>(first.Span);
    }

    /// <summary>Frees every buffer.</summary>
    public void Dispose()
    {
        left?.Dispose();
        right?.Dispose();
        first?.Dispose();
        second?.Dispose();
        rotated?.Dispose();
        half?.Dispose();
    }

    /// <summary>One side's factor, basis and the workspaces of its refresh.</summary>
    private sealed class Side : IDisposable
    {
        private readonly int order;
        private readonly BlasBackend? blas;
        private readonly AlignedArray<T> scratch;
        private readonly AlignedArray<T> product;
        private readonly AlignedArray<T> eigenvalues;
        private readonly double[] keys;
        private readonly int[] permutation;
        private readonly SymmetricEigen<T> eigen;
        private readonly QrFactorization<T> qr;

        public Side(int order, BlasBackend? blas)
        {
            this.order = order;
            this.blas = blas;
            Factor = new AlignedArray<T>(order * order);
            Basis = new AlignedArray<T>(order * order);
            scratch = new AlignedArray<T>(order * order);
            product = new AlignedArray<T>(order * order);
            eigenvalues = new AlignedArray<T>(order);
            keys = new double[order];
            permutation = new int[order];
            eigen = new SymmetricEigen<T>(order, blas);
            qr = new QrFactorization<T>(order, blas);
            Factor.Span.Clear();
            var b = Basis.Span;
            b.Clear();
            for (var i = 0; i < order; i++)
            {
                b[(i * order) + i] = T.One;
            }
        }

        public AlignedArray<T> Factor { get; }

        public AlignedArray<T> Basis { get; }

        public MatrixView<T> FactorView => new(Factor.Span, order, order);

        public ReadOnlyMatrixView<T> BasisView => new(Basis.Span, order, order);

        /// <summary>Basis ← eigenvectors of the factor, eigenvalues descending; 0, or a failure code with the basis unchanged.</summary>
        public int Eigendecompose()
        {
            var s = scratch.Span;
            Factor.Span.CopyTo(s);
            var info = eigen.Decompose(new MatrixView<T>(s, order, order), eigenvalues.Span);
            if (info != 0 || !FiniteCheck.All<T>(s))
            {
                return info != 0 ? info : -1;
            }

            // syevd's rows are ascending; SOAP orders the basis by descending eigenvalue.
            var b = Basis.Span;
            for (var i = 0; i < order; i++)
            {
                s.Slice((order - 1 - i) * order, order).CopyTo(b.Slice(i * order, order));
            }

            return 0;
        }

        /// <summary>One sorted power step (see the class remarks); 0, or a failure code with basis and V' unchanged.</summary>
        public int PowerStep(EigenvalueCorrectedBlock<T> owner, bool isLeft)
        {
            var b = Basis.Span;
            var p = product.Span;
            // P = B·A, row i = (A·q_i)ᵀ since A is symmetric; the estimated eigenvalue q_iᵀ·A·q_i = P_i · B_i.
            MatrixProduct.Multiply(BasisView, false, new ReadOnlyMatrixView<T>(Factor.Span, order, order), false,
                new MatrixView<T>(p, order, order), T.One, T.Zero, blas);
            for (var i = 0; i < order; i++)
            {
                var sum = 0.0;
                for (var j = 0; j < order; j++)
                {
                    sum += double.CreateTruncating(p[(i * order) + j]) * double.CreateTruncating(b[(i * order) + j]);
                }

                keys[i] = -sum; // ascending sort of −λ = descending λ
                permutation[i] = i;
            }

            Array.Sort(keys, permutation);
            var s = scratch.Span;
            for (var i = 0; i < order; i++)
            {
                p.Slice(permutation[i] * order, order).CopyTo(s.Slice(i * order, order));
            }

            var info = qr.OrthonormalizeRows(new MatrixView<T>(s, order, order));
            if (info != 0 || !FiniteCheck.All<T>(s))
            {
                return info != 0 ? info : -1;
            }

            s.CopyTo(b);
            owner.PermuteSecondMoment(permutation, isLeft);
            return 0;
        }

        public void Dispose()
        {
            Factor?.Dispose();
            Basis?.Dispose();
            scratch?.Dispose();
            product?.Dispose();
            eigenvalues?.Dispose();
            eigen?.Dispose();
            qr?.Dispose();
        }
    }
}
