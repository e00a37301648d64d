namespace ShampooMkl.Tests.Reference;

/// <summary>SOAP (Vyas et al. 2024, "SOAP: Improving and Stabilizing Shampoo using Adam") for one m×n matrix, written
/// from its published algorithm with plain fp64 loops, Jacobi eigenvectors and modified Gram–Schmidt: slow, but
/// shares no code with the library.</summary>
/// <remarks>
/// <para>Bases are Q (columns = basis vectors), as in the paper. Per call of <see cref="Step"/>:</para>
/// <list type="number">
/// <item>The first call only sets L = (1−β)GGᵀ, R = (1−β)GᵀG and the bases to their eigenvectors, eigenvalues descending.</item>
/// <item>Then, with k counting these later calls: G' = Q_Lᵀ G Q_R; M ← β₁M + (1−β₁)G; V ← β₂V + (1−β₂)G'²;
/// M' = Q_Lᵀ M Q_R; N = Q_L (M' / (√V + ε)) Q_Rᵀ; W ← W − η·√(1−β₂ᵏ)/(1−β₁ᵏ)·N (factor 1 without bias correction);
/// W ← W·(1 − ηλ); L ← βL + (1−β)GGᵀ, R likewise.</item>
/// <item>If k is a multiple of f: per side, estimated eigenvalues diag(QᵀAQ) sorted descending, Q's columns and V's
/// rows (L) or columns (R) permuted by that order, then Q ← Gram–Schmidt(A·Q); or, with a full refresh, Q ← the
/// eigenvectors of A, descending.</item>
/// </list>
/// <para>A side longer than <c>maxDim</c> has no factor and Q = I. A vector is m×1 with neither side.</para>
/// </remarks>
public sealed class ReferenceSoap
{
    private readonly int m;
    private readonly int n;
    private readonly bool leftSide;
    private readonly bool rightSide;
    private readonly double lr;
    private readonly double beta1;
    private readonly double beta2;
    private readonly double shampooBeta;
    private readonly double eps;
    private readonly double weightDecay;
    private readonly int frequency;
    private readonly bool fullRefresh;
    private readonly bool biasCorrection;
    private bool initialized;
    private long k;

    public ReferenceSoap(int m, int n, bool isMatrix, int maxDim, double lr, double beta1, double beta2, double shampooBeta,
        double eps, double weightDecay, int frequency, bool fullRefresh = false, bool biasCorrection = true)
    {
        (this.m, this.n) = (m, n);
        leftSide = isMatrix && m <= maxDim;
        rightSide = isMatrix && n <= maxDim;
        (this.lr, this.beta1, this.beta2, this.shampooBeta, this.eps, this.weightDecay, this.frequency, this.fullRefresh, this.biasCorrection) =
            (lr, beta1, beta2, shampooBeta, eps, weightDecay, frequency, fullRefresh, biasCorrection);
        L = new double[m * m];
        R = new double[n * n];
        QL = DenseMatrix.Identity(m);
        QR = DenseMatrix.Identity(n);
        M = new double[m * n];
        V = new double[m * n];
    }

    public double[] L { get; }

    public double[] R { get; }

    /// <summary>Q_L, columns the basis vectors.</summary>
    public double[] QL { get; private set; }

    /// <summary>Q_R, columns the basis vectors.</summary>
    public double[] QR { get; private set; }

    public double[] M { get; }

    public double[] V { get; private set; }

    /// <summary>Every permutation the sorted refreshes applied, in order (side 'L' or 'R', new index i ← old order[i]).</summary>
    public List<(char Side, int[] Order)> Permutations { get; } = [];

    /// <summary>One step on <paramref name="w"/> (m·n, row-major) with gradient <paramref name="g"/> and learning rate η.</summary>
    public void Step(double[] w, double[] g, double? learningRate = null)
    {
        var eta = learningRate ?? lr;
        if (!initialized)
        {
            AccumulateStatistics(g);
            if (leftSide)
            {
                QL = EigenvectorsDescending(L, m);
            }

            if (rightSide)
            {
                QR = EigenvectorsDescending(R, n);
            }

            initialized = true;
            return;
        }

        var gr = Rotate(g);
        k++;
        for (var i = 0; i < m * n; i++)
        {
            M[i] = (beta1 * M[i]) + ((1 - beta1) * g[i]);
            V[i] = (beta2 * V[i]) + ((1 - beta2) * gr[i] * gr[i]);
        }

        var mr = Rotate(M);
        for (var i = 0; i < m * n; i++)
        {
            mr[i] /= Math.Sqrt(V[i]) + eps;
        }

        var update = RotateBack(mr);
        var size = biasCorrection ? eta * Math.Sqrt(1 - Math.Pow(beta2, k)) / (1 - Math.Pow(beta1, k)) : eta;
        for (var i = 0; i < m * n; i++)
        {
            w[i] -= size * update[i];
            w[i] -= eta * weightDecay * w[i];
        }

        AccumulateStatistics(g);
        if (k % frequency == 0)
        {
            if (leftSide)
            {
                QL = fullRefresh ? EigenvectorsDescending(L, m) : PowerStep(L, QL, m, 'L');
            }

            if (rightSide)
            {
                QR = fullRefresh ? EigenvectorsDescending(R, n) : PowerStep(R, QR, n, 'R');
            }
        }
    }

    private void AccumulateStatistics(double[] g)
    {
        if (leftSide)
        {
            var ggt = DenseMatrix.Multiply(g, m, n, DenseMatrix.Transpose(g, m, n), n, m);
            for (var i = 0; i < L.Length; i++)
            {
                L[i] = (shampooBeta * L[i]) + ((1 - shampooBeta) * ggt[i]);
            }
        }

        if (rightSide)
        {
            var gtg = DenseMatrix.Multiply(DenseMatrix.Transpose(g, m, n), n, m, g, m, n);
            for (var i = 0; i < R.Length; i++)
            {
                R[i] = (shampooBeta * R[i]) + ((1 - shampooBeta) * gtg[i]);
            }
        }
    }

    private double[] Rotate(double[] x) =>
        DenseMatrix.Multiply(DenseMatrix.Multiply(DenseMatrix.Transpose(QL, m, m), m, m, x, m, n), m, n, QR, n, n);

    private double[] RotateBack(double[] x) =>
        DenseMatrix.Multiply(DenseMatrix.Multiply(QL, m, m, x, m, n), m, n, DenseMatrix.Transpose(QR, n, n), n, n);

    private double[] PowerStep(double[] a, double[] q, int size, char side)
    {
        var aq = DenseMatrix.Multiply(a, size, size, q, size, size);
        var estimate = new double[size];
        for (var j = 0; j < size; j++)
        {
            for (var i = 0; i < size; i++)
            {
                estimate[j] += q[(i * size) + j] * aq[(i * size) + j];
            }
        }

        var order = Enumerable.Range(0, size).OrderByDescending(j => estimate[j]).ToArray();
        Permutations.Add((side, order));
        var permuted = new double[size * size];
        for (var i = 0; i < size; i++)
        {
            for (var j = 0; j < size; j++)
            {
                permuted[(i * size) + j] = q[(i * size) + order[j]];
            }
        }

        var v = new double[m * n];
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                v[(i * n) + j] = side == 'L' ? V[(order[i] * n) + j] : V[(i * n) + order[j]];
            }
        }

        V = v;
        return GramSchmidt(DenseMatrix.Multiply(a, size, size, permuted, size, size), size);
    }

    /// <summary>Eigenvectors as columns, eigenvalues descending.</summary>
    private static double[] EigenvectorsDescending(double[] a, int size)
    {
        var e = JacobiEigen.Decompose(a, size);
        var order = Enumerable.Range(0, size).OrderByDescending(j => e.Values[j]).ToArray();
        var q = new double[size * size];
        for (var i = 0; i < size; i++)
        {
            for (var j = 0; j < size; j++)
            {
                q[(i * size) + j] = e.Vectors[(i * size) + order[j]];
            }
        }

        return q;
    }

    /// <summary>Modified Gram–Schmidt of the columns, in order.</summary>
    private static double[] GramSchmidt(double[] a, int size)
    {
        var q = (double[])a.Clone();
        for (var j = 0; j < size; j++)
        {
            for (var p = 0; p < j; p++)
            {
                var dot = 0.0;
                for (var i = 0; i < size; i++)
                {
                    dot += q[(i * size) + p] * q[(i * size) + j];
                }

                for (var i = 0; i < size; i++)
                {
                    q[(i * size) + j] -= dot * q[(i * size) + p];
                }
            }

            var norm = 0.0;
            for (var i = 0; i < size; i++)
            {
                norm += q[(i * size) + j] * q[(i * size) + j];
            }

            norm = Math.Sqrt(norm);
            for (var i = 0; i < size; i++)
            {
                q[(i * size) + j] /= norm;
            }
        }

        return q;
    }
}
