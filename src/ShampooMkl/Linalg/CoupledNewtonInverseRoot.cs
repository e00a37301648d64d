using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ShampooMkl.Memory;

namespace ShampooMkl.Linalg;

/// <summary>(A + εI)^{-1/p} of a symmetric positive (semi)definite matrix by the coupled Newton iteration, gemm only, in fp64.</summary>
/// <remarks>
/// The iteration (Guo &amp; Higham 2006, as used by Shampoo implementations) keeps two matrices that are polynomials in A,
/// so they commute: X₀ = z^{1/p}·I, M₀ = z·(A + εI), then
/// M̃ = ((p + 1)·I − M)/p, X ← X·M̃, M ← M̃^p·M, which preserves M = X^p·(A + εI) and drives M → I, hence X → (A + εI)^{-1/p}.
/// z = (1 + p)/(2‖A + εI‖_F) puts every eigenvalue of M₀ in (0, (p + 1)/2], inside the (0, p + 1) region where the
/// scalar map converges; the Frobenius norm is an O(n²) upper bound of λ_max, which a power iteration could underestimate.
/// Small eigenvalues of M₀ grow by about ((p + 1)/p)^p per step (2.25 at p = 2, 2.44 at p = 4), so the step count is
/// roughly log(κ)/log(2.4) + 5: cheap for well-conditioned factors, many gemms for ill-conditioned ones, where
/// <see cref="InverseRoot"/>'s syevd is the better choice. Unlike <see cref="InverseRoot"/> the eigenvalues are not clamped
/// at zero (there are none to clamp), so ε must dominate the round-off negatives of a rank-deficient statistic.
/// Scratch is rented per call from the pool; the instance itself holds nothing but settings.
/// </remarks>
internal sealed class CoupledNewtonInverseRoot
{
    /// <summary>The residual tolerance used when none is given.</summary>
    /// <remarks>A residual r changes the root by about r/p relative, 2.5·10⁻⁷ at p = 4: about two fp32 ulps, below what
    /// an fp32 root can resolve; the quadratic last steps usually land far below it anyway.</remarks>
    public const double DefaultTolerance = 1e-6;

    /// <summary>The iteration cap used when none is given (about κ = 10³⁰ at p = 4: beyond it no ε makes sense).</summary>
    public const int DefaultMaxIterations = 100;

    private readonly BlasBackend blas;
    private readonly BufferPool pool;

    /// <summary>Prepares roots of n×n matrices.</summary>
    /// <param name="order">n ≥ 1.</param>
    /// <param name="tolerance">Stop once max|M − I| ≤ tolerance; positive and finite.</param>
    /// <param name="maxIterations">Newton steps allowed per call, at least 1.</param>
    /// <param name="blas">Backend, or the default.</param>
    /// <param name="pool">Scratch pool, or the shared one.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public CoupledNewtonInverseRoot(int order, double tolerance = DefaultTolerance, int maxIterations = DefaultMaxIterations,
        BlasBackend? blas = null, BufferPool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        if (!(tolerance > 0) || double.IsInfinity(tolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be positive and finite.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1);
        Order = order;
        Tolerance = tolerance;
        MaxIterations = maxIterations;
        this.blas = BlasGuard.Resolve(blas);
        this.pool = pool ?? BufferPool.Shared;
    }

    /// <summary>The matrix order n.</summary>
    public int Order { get; }

    /// <summary>Residual max|M − I| at which the iteration stops.</summary>
    public double Tolerance { get; }

    /// <summary>Newton steps allowed per call.</summary>
    public int MaxIterations { get; }

    /// <summary>Writes (A + εI)^{-1/p} into <paramref name="result"/> when the iteration converges.</summary>
    /// <param name="matrix">Symmetric n×n input; it is not modified.</param>
    /// <param name="root">The integer p ≥ 1 (4 for Shampoo, 2 for Shampoo²).</param>
    /// <param name="epsilon">ε ≥ 0 added to the diagonal.</param>
    /// <param name="result">n×n output, written (exactly symmetric) only on convergence; must not overlap the input.</param>
    /// <exception cref="ArgumentException">Wrong shapes, or the spans overlap.</exception>
    /// <exception cref="ArgumentOutOfRangeException">p &lt; 1, or ε negative or not finite.</exception>
    public CoupledNewtonResult Compute<T>(ReadOnlyMatrixView<T> matrix, int root, double epsilon, MatrixView<T> result)
        where T : unmanaged
    {
        BlasGuard.EnsureSupported<T>();
        var n = Order;
        if (matrix.Rows != n || matrix.Cols != n || result.Rows != n || result.Cols != n)
        {
            throw new ArgumentException($"CoupledNewtonInverseRoot of order {n} got input {matrix.Rows}×{matrix.Cols} and output {result.Rows}×{result.Cols}.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(root, 1);
        if (!(epsilon >= 0) || double.IsInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be a non-negative finite number.");
        }

        BlasGuard.NoOverlap(matrix.Data, result.Data, "matrix", "result");

        // Six n×n buffers: M and its successor, X and its successor, M̃ and one spare for its powers.
        using var mBuffer = pool.Rent<double>(n * n);
        using var mNextBuffer = pool.Rent<double>(n * n);
        using var xBuffer = pool.Rent<double>(n * n);
        using var xNextBuffer = pool.Rent<double>(n * n);
        using var stepBuffer = pool.Rent<double>(n * n);
        using var powerBuffer = pool.Rent<double>(n * n);
        var m = new MatrixView<double>(mBuffer.Span, n, n);
        var mNext = new MatrixView<double>(mNextBuffer.Span, n, n);
        var x = new MatrixView<double>(xBuffer.Span, n, n);
        var xNext = new MatrixView<double>(xNextBuffer.Span, n, n);
        var step = new MatrixView<double>(stepBuffer.Span, n, n);
        var power = new MatrixView<double>(powerBuffer.Span, n, n);

        if (!Promote(matrix, m))
        {
            return new CoupledNewtonResult(CoupledNewtonStatus.NonFiniteInput, 0, double.NaN);
        }

        for (var i = 0; i < n; i++)
        {
            m[i, i] += epsilon;
        }

        var norm = TensorPrimitives.Norm<double>(m.Data);
        if (!(norm > 0) || !double.IsFinite(norm))
        {
            return new CoupledNewtonResult(CoupledNewtonStatus.NonFiniteResult, 0, double.NaN);
        }

        var z = (1.0 + root) / (2.0 * norm);
        TensorPrimitives.Multiply(m.Data, z, m.Data);
        x.Data.Clear();
        var x0 = Math.Pow(z, 1.0 / root);
        for (var i = 0; i < n; i++)
        {
            x[i, i] = x0;
        }

        var residual = Residual(m);
        var iterations = 0;
        while (residual > Tolerance && iterations < MaxIterations)
        {
            // M̃ = ((p + 1)·I − M)/p.
            TensorPrimitives.Multiply(m.Data, -1.0 / root, step.Data);
            var diagonal = (root + 1.0) / root;
            for (var i = 0; i < n; i++)
            {
                step[i, i] += diagonal;
            }

            MatrixProduct.Multiply<double>(x, false, step, false, xNext, 1.0, 0.0, blas);
            PowerTimes(step, root, m, mNext, power);
            var next = Residual(mNext);
            if (!double.IsFinite(next))
            {
                return new CoupledNewtonResult(CoupledNewtonStatus.NonFiniteResult, iterations + 1, next);
            }

            // In the quadratic phase (every eigenvalue of M within ½ of 1) the residual must shrink; when it does not,
            // round-off has the last word and the previous iterate is the best this precision gives.
            if (residual < 0.5 && next >= residual)
            {
                break;
            }

            Swap(ref m, ref mNext);
            Swap(ref x, ref xNext);
            residual = next;
            iterations++;
        }

        if (residual > Tolerance)
        {
            return new CoupledNewtonResult(CoupledNewtonStatus.NotConverged, iterations, residual);
        }

        // X is a polynomial in A, hence symmetric in exact arithmetic; averaging with Xᵀ removes the rounding asymmetry
        // so the output is as symmetric as InverseRoot's.
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                var mean = 0.5 * (x[i, j] + x[j, i]);
                x[i, j] = mean;
                x[j, i] = mean;
            }
        }

        if (!FiniteCheck.All<double>(x.Data))
        {
            return new CoupledNewtonResult(CoupledNewtonStatus.NonFiniteResult, iterations, residual);
        }

        Demote(x, result);
        return new CoupledNewtonResult(CoupledNewtonStatus.Converged, iterations, residual);
    }

    /// <summary>target ← step^p·m by binary powering: ⌊log₂ p⌋ squarings plus popcount(p) products (3 gemms at p = 4).</summary>
    /// <remarks>Overwrites <paramref name="step"/> and <paramref name="spare"/>; every factor is a polynomial in A, so the
    /// order of the products is free. Each product goes into whichever of target/spare/step holds neither operand.</remarks>
    private void PowerTimes(MatrixView<double> step, int p, MatrixView<double> m, MatrixView<double> target, MatrixView<double> spare)
    {
        var accumulator = m;
        var basis = step;
        while (true)
        {
            if ((p & 1) != 0)
            {
                var destination = PickFree(accumulator, basis, target, spare, step);
                MatrixProduct.Multiply<double>(basis, false, accumulator, false, destination, 1.0, 0.0, blas);
                accumulator = destination;
            }

            p >>= 1;
            if (p == 0)
            {
                break;
            }

            var square = PickFree(accumulator, basis, target, spare, step);
            MatrixProduct.Multiply<double>(basis, false, basis, false, square, 1.0, 0.0, blas);
            basis = square;
        }

        if (accumulator.Data != target.Data)
        {
            accumulator.Data.CopyTo(target.Data);
        }
    }

    private static MatrixView<double> PickFree(MatrixView<double> busy1, MatrixView<double> busy2,
        MatrixView<double> a, MatrixView<double> b, MatrixView<double> c)
    {
        if (a.Data != busy1.Data && a.Data != busy2.Data)
        {
            return a;
        }

        return b.Data != busy1.Data && b.Data != busy2.Data ? b : c;
    }

    /// <summary>max|M − I| over all elements.</summary>
    private static double Residual(MatrixView<double> m)
    {
        var worst = 0.0;
        for (var i = 0; i < m.Rows; i++)
        {
            var row = m.Row(i);
            var diagonal = row[i];
            row[i] = diagonal - 1.0;
            var rowMax = TensorPrimitives.MaxMagnitude<double>(row);
            row[i] = diagonal;
            if (double.IsNaN(rowMax))
            {
                return double.NaN;
            }

            worst = Math.Max(worst, Math.Abs(rowMax));
        }

        return worst;
    }

    private static void Swap(ref MatrixView<double> a, ref MatrixView<double> b)
    {
        var t = a;
        a = b;
        b = t;
    }

    private static bool Promote<T>(ReadOnlyMatrixView<T> source, MatrixView<double> target) where T : unmanaged
    {
        for (var i = 0; i < source.Rows; i++)
        {
            var dst = target.Row(i);
            if (typeof(T) == typeof(double))
            {
                MemoryMarshal.Cast<T, double>(source.Row(i)).CopyTo(dst);
            }
            else
            {
                TensorPrimitives.ConvertChecked(MemoryMarshal.Cast<T, float>(source.Row(i)), dst);
            }

            if (!FiniteCheck.All<double>(dst))
            {
                return false;
            }
        }

        return true;
    }

    private static void Demote<T>(MatrixView<double> source, MatrixView<T> target) where T : unmanaged
    {
        for (var i = 0; i < source.Rows; i++)
        {
            if (typeof(T) == typeof(double))
            {
                source.Row(i).CopyTo(MemoryMarshal.Cast<T, double>(target.Row(i)));
            }
            else
            {
                TensorPrimitives.ConvertTruncating(source.Row(i), MemoryMarshal.Cast<T, float>(target.Row(i)));
            }
        }
    }
}
