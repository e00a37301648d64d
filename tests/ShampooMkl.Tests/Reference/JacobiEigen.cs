namespace ShampooMkl.Tests.Reference;

/// <summary>Eigen-decomposition of a symmetric matrix, eigenvalues ascending like LAPACK's syevd.</summary>
/// <param name="Values">Eigenvalues λ₀ ≤ λ₁ ≤ … .</param>
/// <param name="Vectors">n×n row-major; column j is the unit eigenvector of λ_j (so A = V Λ Vᵀ).</param>
/// <param name="Size">The matrix dimension n.</param>
public sealed record EigenDecomposition(double[] Values, double[] Vectors, int Size)
{
    /// <summary>Column <paramref name="j"/> of <see cref="Vectors"/>, copied out.</summary>
    public double[] Vector(int j)
    {
        var v = new double[Size];
        for (int i = 0; i < Size; i++)
        {
            v[i] = Vectors[(i * Size) + j];
        }

        return v;
    }
}

/// <summary>Cyclic Jacobi eigensolver: slow but accurate to near machine precision, and independent of LAPACK.</summary>
/// <remarks>
/// Each rotation zeroes one off-diagonal pair exactly; sweeps over all pairs converge quadratically
/// once the off-diagonal part is small (Golub &amp; Van Loan §8.5). We stop when the off-diagonal
/// Frobenius norm is below <c>tolerance</c>·‖A‖_F, or when a sweep finds nothing worth rotating.
/// </remarks>
public static class JacobiEigen
{
    private const int MaxSweeps = 100;

    public static EigenDecomposition Decompose(double[] a, int n, double tolerance = 1e-14)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.Length != n * n)
        {
            throw new ArgumentException($"Expected an {n}×{n} matrix, got {a.Length} elements.", nameof(a));
        }

        CheckSymmetric(a, n);
        double[] work = (double[])a.Clone();
        double[] v = DenseMatrix.Identity(n);
        double norm = DenseMatrix.FrobeniusNorm(work);

        int sweep = 0;
        while (OffDiagonalNorm(work, n) > tolerance * norm)
        {
            if (++sweep > MaxSweeps)
            {
                throw new InvalidOperationException(
                    $"Jacobi did not converge in {MaxSweeps} sweeps (off-diagonal {OffDiagonalNorm(work, n):E3}, ‖A‖ {norm:E3}).");
            }

            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    rotated |= Rotate(work, v, n, p, q);
                }
            }

            if (!rotated)
            {
                break;
            }
        }

        var values = new double[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = work[(i * n) + i];
        }

        return SortAscending(values, v, n);
    }

    /// <summary>f(A) = V f(Λ) Vᵀ, e.g. inverse p-th roots as the reference for the library's InverseRoot.</summary>
    public static double[] MatrixFunction(double[] a, int n, Func<double, double> f)
    {
        EigenDecomposition eig = Decompose(a, n);
        var result = new double[n * n];
        for (int k = 0; k < n; k++)
        {
            double fk = f(eig.Values[k]);
            for (int i = 0; i < n; i++)
            {
                double vik = eig.Vectors[(i * n) + k] * fk;
                for (int j = 0; j < n; j++)
                {
                    result[(i * n) + j] += vik * eig.Vectors[(j * n) + k];
                }
            }
        }

        return result;
    }

    // Applies A ← Jᵀ A J and V ← V J with the rotation that zeroes a_pq; false if a_pq is already negligible.
    private static bool Rotate(double[] a, double[] v, int n, int p, int q)
    {
        double apq = a[(p * n) + q];
        double app = a[(p * n) + p];
        double aqq = a[(q * n) + q];
        // Relative test, far below ε·√|a_pp a_qq|: such an a_pq cannot move anything at working precision,
        // and skipping it lets a converged sweep end with no rotations.
        if (apq == 0 || Math.Abs(apq) <= 1e-18 * Math.Sqrt(Math.Abs(app * aqq)))
        {
            return false;
        }

        double theta = (aqq - app) / (2 * apq);
        // The smaller root of t² + 2θt − 1 = 0 keeps the rotation angle ≤ π/4, which is what makes it stable.
        double t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(1 + (theta * theta)));
        double c = 1 / Math.Sqrt(1 + (t * t));
        double s = t * c;

        for (int k = 0; k < n; k++)
        {
            double akp = a[(k * n) + p];
            double akq = a[(k * n) + q];
            a[(k * n) + p] = (c * akp) - (s * akq);
            a[(k * n) + q] = (s * akp) + (c * akq);
        }

        for (int k = 0; k < n; k++)
        {
            double apk = a[(p * n) + k];
            double aqk = a[(q * n) + k];
            a[(p * n) + k] = (c * apk) - (s * aqk);
            a[(q * n) + k] = (s * apk) + (c * aqk);
        }

        // Exactly zero in exact arithmetic; store it so rounding does not leave a residue behind.
        a[(p * n) + q] = 0;
        a[(q * n) + p] = 0;

        for (int k = 0; k < n; k++)
        {
            double vkp = v[(k * n) + p];
            double vkq = v[(k * n) + q];
            v[(k * n) + p] = (c * vkp) - (s * vkq);
            v[(k * n) + q] = (s * vkp) + (c * vkq);
        }

        return true;
    }

    private static double OffDiagonalNorm(double[] a, int n)
    {
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                if (i != j)
                {
                    sum += a[(i * n) + j] * a[(i * n) + j];
                }
            }
        }

        return Math.Sqrt(sum);
    }

    private static void CheckSymmetric(double[] a, int n)
    {
        double scale = DenseMatrix.FrobeniusNorm(a);
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                if (Math.Abs(a[(i * n) + j] - a[(j * n) + i]) > 1e-12 * scale)
                {
                    throw new ArgumentException(
                        $"Matrix is not symmetric: a[{i},{j}] = {a[(i * n) + j]:R}, a[{j},{i}] = {a[(j * n) + i]:R}.", nameof(a));
                }
            }
        }
    }

    private static EigenDecomposition SortAscending(double[] values, double[] v, int n)
    {
        int[] order = Enumerable.Range(0, n).OrderBy(i => values[i]).ToArray();
        var sortedValues = new double[n];
        var sortedVectors = new double[n * n];
        for (int j = 0; j < n; j++)
        {
            sortedValues[j] = values[order[j]];
            for (int i = 0; i < n; i++)
            {
                sortedVectors[(i * n) + j] = v[(i * n) + order[j]];
            }
        }

        return new EigenDecomposition(sortedValues, sortedVectors, n);
    }
}
