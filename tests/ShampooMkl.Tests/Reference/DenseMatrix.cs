namespace ShampooMkl.Tests.Reference;

/// <summary>Slow, obviously-correct dense matrix algebra that the BLAS-backed library is checked against.</summary>
/// <remarks>
/// Every matrix is a row-major <c>double[]</c>: element (i, j) of an r×c matrix is <c>a[i*c + j]</c>.
/// Vectorisation is row-major too, g[i·n + k] = G[i,k], which makes (A ⊗ B) vec(G) = vec(A G Bᵀ)
/// (docs/design.md, 'Conventions'). Loops are written plainly on purpose: these are the yardstick, not the product.
/// </remarks>
public static class DenseMatrix
{
    /// <summary>C = A B for A m×k and B k×n.</summary>
    public static double[] Multiply(double[] a, int m, int k, double[] b, int k2, int n)
    {
        CheckSize(a, m, k, nameof(a));
        CheckSize(b, k2, n, nameof(b));
        if (k != k2)
        {
            throw new ArgumentException($"Inner dimensions differ: {m}×{k} times {k2}×{n}.");
        }

        var c = new double[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    sum += a[(i * k) + p] * b[(p * n) + j];
                }

                c[(i * n) + j] = sum;
            }
        }

        return c;
    }

    /// <summary>y = A x for A m×n.</summary>
    public static double[] MultiplyVector(double[] a, int m, int n, double[] x) => Multiply(a, m, n, x, x.Length, 1);

    /// <summary>Aᵀ (n×m) of an m×n matrix.</summary>
    public static double[] Transpose(double[] a, int m, int n)
    {
        CheckSize(a, m, n, nameof(a));
        var t = new double[n * m];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                t[(j * m) + i] = a[(i * n) + j];
            }
        }

        return t;
    }

    public static double[] Identity(int n)
    {
        var eye = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            eye[(i * n) + i] = 1;
        }

        return eye;
    }

    /// <summary>
    /// A ⊗ B (mn×mn) for A m×m and B n×n, entry ((i·n + k), (j·n + l)) = A[i,j]·B[k,l], which with
    /// row-major vec gives (A ⊗ B) vec(G) = vec(A G Bᵀ).
    /// </summary>
    public static double[] Kronecker(double[] a, int m, double[] b, int n)
    {
        CheckSize(a, m, m, nameof(a));
        CheckSize(b, n, n, nameof(b));
        int size = m * n;
        var result = new double[size * size];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++)
            {
                for (int k = 0; k < n; k++)
                {
                    for (int l = 0; l < n; l++)
                    {
                        result[(((i * n) + k) * size) + (j * n) + l] = a[(i * m) + j] * b[(k * n) + l];
                    }
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Van Loan–Pitsianis rearrangement R(H) (m²×n²) of H (mn×mn): row i·m + j is vec(H_ij), H_ij the n×n
    /// block at block-row i, block-column j. It turns ‖H − A⊗B‖_F into ‖R(H) − vec(A) vec(B)ᵀ‖_F, so
    /// R(A ⊗ B) = vec(A) vec(B)ᵀ exactly.
    /// </summary>
    public static double[] VanLoanRearrangement(double[] h, int m, int n)
    {
        int size = m * n;
        CheckSize(h, size, size, nameof(h));
        int columns = n * n;
        var r = new double[m * m * columns];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < m; j++)
            {
                for (int k = 0; k < n; k++)
                {
                    for (int l = 0; l < n; l++)
                    {
                        r[(((i * m) + j) * columns) + (k * n) + l] = h[(((i * n) + k) * size) + (j * n) + l];
                    }
                }
            }
        }

        return r;
    }

    /// <summary>⟨A, B⟩_F = Σ a_ij b_ij.</summary>
    public static double FrobeniusInner(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"Lengths differ: {a.Length} vs {b.Length}.");
        }

        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    public static double FrobeniusNorm(ReadOnlySpan<double> a) => Math.Sqrt(FrobeniusInner(a, a));

    /// <summary>The paper's quality metric ⟨A, B⟩_F / (‖A‖_F ‖B‖_F); NaN when either matrix is zero.</summary>
    public static double CosineSimilarity(ReadOnlySpan<double> a, ReadOnlySpan<double> b) =>
        FrobeniusInner(a, b) / (FrobeniusNorm(a) * FrobeniusNorm(b));

    public static double Trace(double[] a, int n)
    {
        CheckSize(a, n, n, nameof(a));
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += a[(i * n) + i];
        }

        return sum;
    }

    /// <summary>s·A, as a new array.</summary>
    public static double[] Scale(double[] a, double s) => a.Select(x => x * s).ToArray();

    /// <summary>A + B, as a new array.</summary>
    public static double[] Add(double[] a, double[] b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"Lengths differ: {a.Length} vs {b.Length}.");
        }

        var c = new double[a.Length];
        for (int i = 0; i < a.Length; i++)
        {
            c[i] = a[i] + b[i];
        }

        return c;
    }

    /// <summary>x xᵀ, the rank-one matrix whose average over gradients g is H_Ada.</summary>
    public static double[] OuterProduct(double[] x, double[] y)
    {
        var result = new double[x.Length * y.Length];
        for (int i = 0; i < x.Length; i++)
        {
            for (int j = 0; j < y.Length; j++)
            {
                result[(i * y.Length) + j] = x[i] * y[j];
            }
        }

        return result;
    }

    private static void CheckSize(double[] a, int rows, int columns, string name)
    {
        ArgumentNullException.ThrowIfNull(a, name);
        if (rows < 0 || columns < 0 || a.Length != (long)rows * columns)
        {
            throw new ArgumentException($"'{name}' has {a.Length} elements, expected {rows}×{columns}.", name);
        }
    }
}
