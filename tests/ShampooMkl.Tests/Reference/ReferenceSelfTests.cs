using Xunit.Sdk;

namespace ShampooMkl.Tests.Reference;

/// <summary>Checks the references against identities that hold by construction, so library tests can trust them.</summary>
public sealed class ReferenceSelfTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(30)]
    public void JacobiEigen_ReconstructsSymmetricMatrix(int n)
    {
        double[] a = SeededRandom.SymmetricPositiveDefinite(seed: 100 + n, n, shift: 0.01);
        EigenDecomposition eig = JacobiEigen.Decompose(a, n);

        var lambda = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            lambda[(i * n) + i] = eig.Values[i];
        }

        double[] v = eig.Vectors;
        double[] vt = DenseMatrix.Transpose(v, n, n);
        double[] rebuilt = DenseMatrix.Multiply(DenseMatrix.Multiply(v, n, n, lambda, n, n), n, n, vt, n, n);
        double tol = Tolerance.ForPrecision<double>(n);
        Tolerance.AssertClose(a, rebuilt, 0, tol * DenseMatrix.FrobeniusNorm(a), "V Λ Vᵀ");
        Tolerance.AssertClose(DenseMatrix.Identity(n), DenseMatrix.Multiply(vt, n, n, v, n, n), 0, tol, "Vᵀ V");

        for (int i = 1; i < n; i++)
        {
            Assert.True(eig.Values[i - 1] <= eig.Values[i], $"eigenvalues not ascending at {i}");
        }
    }

    [Fact]
    public void JacobiEigen_KnownSpectrum()
    {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, −1)/√2 and (1, 1)/√2.
        EigenDecomposition eig = JacobiEigen.Decompose([2, 1, 1, 2], 2);
        Tolerance.AssertClose([1.0, 3.0], eig.Values, 1e-15, 1e-15, "eigenvalues");
        double h = Math.Sqrt(0.5);
        Tolerance.AssertCloseUpToSign([h, h], eig.Vector(1), 1e-15, 1e-15, "top eigenvector");
        Tolerance.AssertCloseUpToSign([h, -h], eig.Vector(0), 1e-15, 1e-15, "bottom eigenvector");
    }

    [Fact]
    public void JacobiEigen_HandlesIndefiniteAndRepeatedEigenvalues()
    {
        // diag(−2, 5, 5) rotated by an orthogonal Q: repeated and negative eigenvalues must survive.
        const int n = 3;
        double c = Math.Cos(0.3);
        double s = Math.Sin(0.3);
        double[] q = [c, -s, 0, s, c, 0, 0, 0, 1];
        double[] q2 = [1, 0, 0, 0, c, -s, 0, s, c];
        double[] rotation = DenseMatrix.Multiply(q, n, n, q2, n, n);
        double[] d = [-2, 0, 0, 0, 5, 0, 0, 0, 5];
        double[] a = DenseMatrix.Multiply(DenseMatrix.Multiply(rotation, n, n, d, n, n), n, n, DenseMatrix.Transpose(rotation, n, n), n, n);
        Symmetrise(a, n);

        EigenDecomposition eig = JacobiEigen.Decompose(a, n);
        Tolerance.AssertClose([-2.0, 5.0, 5.0], eig.Values, 1e-14, 1e-14, "eigenvalues");
    }

    [Fact]
    public void MatrixFunction_SquareRootSquaresBack()
    {
        const int n = 6;
        double[] a = SeededRandom.SymmetricPositiveDefinite(seed: 7, n);
        double[] root = JacobiEigen.MatrixFunction(a, n, Math.Sqrt);
        double[] squared = DenseMatrix.Multiply(root, n, n, root, n, n);
        Tolerance.AssertClose(a, squared, 0, Tolerance.ForPrecision<double>(n) * DenseMatrix.FrobeniusNorm(a), "√A √A");

        double[] inverseRoot = JacobiEigen.MatrixFunction(a, n, x => 1 / Math.Sqrt(x));
        double[] shouldBeIdentity = DenseMatrix.Multiply(DenseMatrix.Multiply(inverseRoot, n, n, a, n, n), n, n, inverseRoot, n, n);
        Tolerance.AssertClose(DenseMatrix.Identity(n), shouldBeIdentity, 0, 1e-12, "A^{-1/2} A A^{-1/2}");
    }

    [Theory]
    [InlineData(5, 3)]
    [InlineData(3, 5)]
    [InlineData(4, 4)]
    public void JacobiSvd_TopTripletOfKnownRankOneMatrix(int m, int n)
    {
        double[] u = Normalised(SeededRandom.Gaussian(1, m));
        double[] v = Normalised(SeededRandom.Gaussian(2, n));
        const double sigma = 3.5;
        double[] a = DenseMatrix.Scale(DenseMatrix.OuterProduct(u, v), sigma);

        (double topSigma, double[] topU, double[] topV) = JacobiSvd.Top(a, m, n);

        Tolerance.AssertClose(sigma, topSigma, 1e-14, 0, "σ₁");
        // u and v may both flip sign; fix the sign on u and require v to follow it.
        double sign = Math.Sign(DenseMatrix.FrobeniusInner(u, topU));
        Tolerance.AssertClose(u, DenseMatrix.Scale(topU, sign), 0, 1e-14, "u₁");
        Tolerance.AssertClose(v, DenseMatrix.Scale(topV, sign), 0, 1e-14, "v₁");
    }

    [Theory]
    [InlineData(6, 4)]
    [InlineData(4, 6)]
    public void JacobiSvd_ReconstructsGeneralMatrix(int m, int n)
    {
        double[] a = SeededRandom.Gaussian(11, m * n);
        SingularValueDecomposition svd = JacobiSvd.Decompose(a, m, n);
        int r = svd.Rank;
        Assert.Equal(Math.Min(m, n), r);

        var sigma = new double[r * r];
        for (int i = 0; i < r; i++)
        {
            sigma[(i * r) + i] = svd.Values[i];
            if (i > 0)
            {
                Assert.True(svd.Values[i - 1] >= svd.Values[i], "singular values not descending");
            }
        }

        double[] rebuilt = DenseMatrix.Multiply(
            DenseMatrix.Multiply(svd.U, m, r, sigma, r, r), m, r, DenseMatrix.Transpose(svd.V, n, r), r, n);
        Tolerance.AssertClose(a, rebuilt, 0, 1e-13, "U Σ Vᵀ");
        Tolerance.AssertClose(DenseMatrix.Identity(r), DenseMatrix.Multiply(DenseMatrix.Transpose(svd.U, m, r), r, m, svd.U, m, r), 0, 1e-13, "UᵀU");
        Tolerance.AssertClose(DenseMatrix.Identity(r), DenseMatrix.Multiply(DenseMatrix.Transpose(svd.V, n, r), r, n, svd.V, n, r), 0, 1e-13, "VᵀV");
    }

    [Fact]
    public void Kronecker_ActsAsAGBTransposeOnRowMajorVec()
    {
        const int m = 3;
        const int n = 4;
        double[] a = SeededRandom.Gaussian(21, m * m);
        double[] b = SeededRandom.Gaussian(22, n * n);
        double[] g = SeededRandom.Gaussian(23, m * n); // G as m×n row-major is already vec(G)

        double[] viaKronecker = DenseMatrix.MultiplyVector(DenseMatrix.Kronecker(a, m, b, n), m * n, m * n, g);
        double[] viaFactors = DenseMatrix.Multiply(
            DenseMatrix.Multiply(a, m, m, g, m, n), m, n, DenseMatrix.Transpose(b, n, n), n, n);

        Tolerance.AssertClose(viaFactors, viaKronecker, 0, 1e-13, "(A⊗B) vec(G) vs vec(A G Bᵀ)");
    }

    [Fact]
    public void Kronecker_TraceAndNormFactorise()
    {
        const int m = 3;
        const int n = 2;
        double[] a = SeededRandom.SymmetricPositiveDefinite(31, m);
        double[] b = SeededRandom.SymmetricPositiveDefinite(32, n);
        double[] k = DenseMatrix.Kronecker(a, m, b, n);
        Tolerance.AssertClose(DenseMatrix.Trace(a, m) * DenseMatrix.Trace(b, n), DenseMatrix.Trace(k, m * n), 1e-14, 0, "Tr(A⊗B)");
        Tolerance.AssertClose(DenseMatrix.FrobeniusNorm(a) * DenseMatrix.FrobeniusNorm(b), DenseMatrix.FrobeniusNorm(k), 1e-14, 0, "‖A⊗B‖_F");
        Assert.Equal(1.0, DenseMatrix.CosineSimilarity(k, DenseMatrix.Scale(k, 2.5)), 14);
    }

    [Fact]
    public void VanLoanRearrangement_OfKroneckerIsRankOne()
    {
        const int m = 3;
        const int n = 4;
        double[] a = SeededRandom.SymmetricPositiveDefinite(41, m);
        double[] b = SeededRandom.SymmetricPositiveDefinite(42, n);
        double[] r = DenseMatrix.VanLoanRearrangement(DenseMatrix.Kronecker(a, m, b, n), m, n);

        Tolerance.AssertClose(DenseMatrix.OuterProduct(a, b), r, 0, 0, "R(A⊗B) = vec(A) vec(B)ᵀ");

        (double sigma, double[] u, double[] v) = JacobiSvd.Top(r, m * m, n * n);
        double normA = DenseMatrix.FrobeniusNorm(a);
        double normB = DenseMatrix.FrobeniusNorm(b);
        Tolerance.AssertClose(normA * normB, sigma, 1e-13, 0, "σ₁ of R(A⊗B)");
        Tolerance.AssertCloseUpToSign(DenseMatrix.Scale(a, 1 / normA), u, 0, 1e-13, "u₁ ∝ vec(A)");
        Tolerance.AssertCloseUpToSign(DenseMatrix.Scale(b, 1 / normB), v, 0, 1e-13, "v₁ ∝ vec(B)");
    }

    [Fact]
    public void VanLoanRearrangement_PreservesFrobeniusNorm()
    {
        const int m = 2;
        const int n = 3;
        double[] h = SeededRandom.Gaussian(51, m * n * m * n);
        double[] r = DenseMatrix.VanLoanRearrangement(h, m, n);
        Assert.Equal(h.Order(), r.Order());
    }

    [Fact]
    public void Tolerance_ForPrecisionScalesWithEpsilonAndSize()
    {
        Assert.Equal(Math.Pow(2, -52), Tolerance.MachineEpsilon<double>());
        Assert.Equal(Math.Pow(2, -23), Tolerance.MachineEpsilon<float>());
        Assert.Equal(Math.Pow(2, -10), Tolerance.MachineEpsilon<Half>());
        Assert.Equal(8 * 100 * Math.Pow(2, -52), Tolerance.ForPrecision<double>(100));
        Assert.True(Tolerance.ForPrecision<float>(10) > Tolerance.ForPrecision<double>(10_000));
    }

    [Fact]
    public void Tolerance_FailureMessageNamesIndexAndValues()
    {
        var ex = Assert.Throws<FailException>(() =>
            Tolerance.AssertClose([1.0, 2.0, 3.0], [1.0, 2.5, double.NaN], 1e-6, 0, "probe"));
        Assert.Contains("probe", ex.Message);
        Assert.Contains("2 of 3", ex.Message);
        Assert.Contains("[1]", ex.Message);
        Assert.Contains("2.5", ex.Message);
        Assert.Contains("[2]", ex.Message);
    }

    [Fact]
    public void SeededRandom_IsDeterministicAndStandardNormal()
    {
        Assert.Equal(SeededRandom.Gaussian(5, 101), SeededRandom.Gaussian(5, 101));
        Assert.NotEqual(SeededRandom.Gaussian(5, 10), SeededRandom.Gaussian(6, 10));

        double[] x = SeededRandom.Gaussian(9, 200_000);
        double mean = x.Average();
        double variance = x.Select(v => (v - mean) * (v - mean)).Average();
        // Standard errors are 1/√N ≈ 0.0022 for the mean and √(2/N) ≈ 0.0032 for the variance.
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(variance, 0.985, 1.015);
    }

    private static double[] Normalised(double[] x) => DenseMatrix.Scale(x, 1 / DenseMatrix.FrobeniusNorm(x));

    private static void Symmetrise(double[] a, int n)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                double mean = 0.5 * (a[(i * n) + j] + a[(j * n) + i]);
                a[(i * n) + j] = mean;
                a[(j * n) + i] = mean;
            }
        }
    }
}
