namespace ShampooMkl.Tests.Reference;

/// <summary>Thin SVD A = U diag(σ) Vᵀ with σ descending; U is m×r and V is n×r (row-major, columns are vectors), r = min(m, n).</summary>
public sealed record SingularValueDecomposition(double[] Values, double[] U, double[] V, int Rows, int Columns)
{
    public int Rank => Values.Length;

    public double[] LeftVector(int j) => Column(U, Rows, Rank, j);

    public double[] RightVector(int j) => Column(V, Columns, Rank, j);

    private static double[] Column(double[] matrix, int rows, int columns, int j)
    {
        var column = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            column[i] = matrix[(i * columns) + j];
        }

        return column;
    }
}

/// <summary>One-sided (Hestenes) Jacobi SVD: an independent reference for the optimal-Kronecker power iteration.</summary>
/// <remarks>
/// Rotating pairs of columns of A until all are mutually orthogonal gives A V = U Σ without ever
/// forming AᵀA, so small singular values keep their relative accuracy. Singular vectors are only
/// defined up to sign (and, for repeated σ, up to rotation); we fix the sign so the largest-magnitude
/// entry of each singular vector on the longer side (U when m ≥ n, else V) is positive, and callers
/// comparing against another method should still compare up to sign.
/// </remarks>
public static class JacobiSvd
{
    private const int MaxSweeps = 100;

    public static SingularValueDecomposition Decompose(double[] a, int m, int n, double tolerance = 1e-15)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.Length != m * n)
        {
            throw new ArgumentException($"Expected an {m}×{n} matrix, got {a.Length} elements.", nameof(a));
        }

        if (m < n)
        {
            // Work on the tall orientation; the SVD of Aᵀ is the SVD of A with U and V swapped.
            SingularValueDecomposition t = Decompose(DenseMatrix.Transpose(a, m, n), n, m, tolerance);
            return new SingularValueDecomposition(t.Values, t.V, t.U, m, n);
        }

        double[] w = (double[])a.Clone();
        double[] v = DenseMatrix.Identity(n);
        for (int sweep = 0; ; sweep++)
        {
            if (sweep == MaxSweeps)
            {
                throw new InvalidOperationException($"One-sided Jacobi did not converge in {MaxSweeps} sweeps.");
            }

            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    rotated |= OrthogonalisePair(w, v, m, n, p, q, tolerance);
                }
            }

            if (!rotated)
            {
                break;
            }
        }

        return Assemble(w, v, m, n);
    }

    /// <summary>The dominant triplet (σ₁, u₁, v₁): what ‖R(H) − vec(A) vec(B)ᵀ‖_F minimisation needs.</summary>
    public static (double Sigma, double[] U, double[] V) Top(double[] a, int m, int n)
    {
        SingularValueDecomposition svd = Decompose(a, m, n);
        return (svd.Values[0], svd.LeftVector(0), svd.RightVector(0));
    }

    // Rotates columns p and q of W (and V) to make them orthogonal; false if they already are.
    private static bool OrthogonalisePair(double[] w, double[] v, int m, int n, int p, int q, double tolerance)
    {
        double alpha = 0;
        double beta = 0;
        double gamma = 0;
        for (int i = 0; i < m; i++)
        {
            double wp = w[(i * n) + p];
            double wq = w[(i * n) + q];
            alpha += wp * wp;
            beta += wq * wq;
            gamma += wp * wq;
        }

        if (gamma == 0 || Math.Abs(gamma) <= tolerance * Math.Sqrt(alpha * beta))
        {
            return false;
        }

        // Same 2×2 symmetric Schur step as two-sided Jacobi, applied to the Gram entries [α γ; γ β].
        double zeta = (beta - alpha) / (2 * gamma);
        double t = Math.Sign(zeta == 0 ? 1 : zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + (zeta * zeta)));
        double c = 1 / Math.Sqrt(1 + (t * t));
        double s = c * t;
        RotateColumns(w, m, n, p, q, c, s);
        RotateColumns(v, n, n, p, q, c, s);
        return true;
    }

    private static void RotateColumns(double[] x, int rows, int columns, int p, int q, double c, double s)
    {
        for (int i = 0; i < rows; i++)
        {
            double xp = x[(i * columns) + p];
            double xq = x[(i * columns) + q];
            x[(i * columns) + p] = (c * xp) - (s * xq);
            x[(i * columns) + q] = (s * xp) + (c * xq);
        }
    }

    private static SingularValueDecomposition Assemble(double[] w, double[] v, int m, int n)
    {
        var sigma = new double[n];
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int i = 0; i < m; i++)
            {
                sum += w[(i * n) + j] * w[(i * n) + j];
            }

            sigma[j] = Math.Sqrt(sum);
        }

        int[] order = Enumerable.Range(0, n).OrderByDescending(j => sigma[j]).ToArray();
        var values = new double[n];
        var u = new double[m * n];
        var vs = new double[n * n];
        for (int k = 0; k < n; k++)
        {
            int j = order[k];
            values[k] = sigma[j];
            // A zero column has no direction; leave its u at zero rather than dividing by zero.
            double inverse = sigma[j] > 0 ? 1 / sigma[j] : 0;
            double sign = SignOfLargest(w, m, n, j);
            for (int i = 0; i < m; i++)
            {
                u[(i * n) + k] = sign * w[(i * n) + j] * inverse;
            }

            for (int i = 0; i < n; i++)
            {
                vs[(i * n) + k] = sign * v[(i * n) + j];
            }
        }

        return new SingularValueDecomposition(values, u, vs, m, n);
    }

    private static double SignOfLargest(double[] x, int rows, int columns, int j)
    {
        double largest = 0;
        for (int i = 0; i < rows; i++)
        {
            double value = x[(i * columns) + j];
            if (Math.Abs(value) > Math.Abs(largest))
            {
                largest = value;
            }
        }

        return largest < 0 ? -1 : 1;
    }
}
