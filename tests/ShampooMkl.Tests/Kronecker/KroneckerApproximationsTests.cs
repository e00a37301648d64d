using ShampooMkl.Kronecker;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Kronecker;

/// <summary>Shampoo statistics, Shampoo², Shampoo, K-FAC and the <see cref="MatrixPower"/> helper against dense references.</summary>
public sealed class KroneckerApproximationsTests
{
    [Theory]
    [InlineData(3, 5, 4, 0)]
    [InlineData(6, 2, 7, 3)]
    [InlineData(4, 4, 5, 1)]
    public void Statistics_MatchDenseSums(int m, int n, int count, int chunk)
    {
        double[] stack = SeededRandom.Gaussian(800 + m, count * m * n);
        double[] weights = SeededRandom.Uniform(801, count, 0.2, 1.0);
        var sample = new GradientSample<double>(stack, count, m, n, weights);
        double total = weights.Sum();
        var l = new double[m * m];
        var r = new double[n * n];
        for (int i = 0; i < count; i++)
        {
            double[] g = stack.AsSpan(i * m * n, m * n).ToArray();
            double w = weights[i] / total;
            l = DenseMatrix.Add(l, DenseMatrix.Scale(DenseMatrix.Multiply(g, m, n, DenseMatrix.Transpose(g, m, n), n, m), w));
            r = DenseMatrix.Add(r, DenseMatrix.Scale(DenseMatrix.Multiply(DenseMatrix.Transpose(g, m, n), n, m, g, m, n), w));
        }

        ShampooStatistics stats = KroneckerApproximations.ComputeStatistics(sample, null, chunk);
        double tol = Tolerance.ForPrecision<double>(count * Math.Max(m, n));
        Tolerance.AssertClose(l, stats.L, tol, tol, "L = Σ w G Gᵀ");
        Tolerance.AssertClose(r, stats.R, tol, tol, "R = Σ w Gᵀ G");
        double trace = DenseMatrix.Trace(KroneckerTestData.DenseH(sample), m * n);
        Tolerance.AssertClose(trace, stats.Trace, tol, 0, "Tr(L) = Tr(H)");
        Tolerance.AssertClose(trace, DenseMatrix.Trace(stats.R, n), tol, 0, "Tr(R) = Tr(H)");

        KroneckerPair squared = KroneckerApproximations.ShampooSquared(stats);
        Tolerance.AssertClose(DenseMatrix.Scale(DenseMatrix.Kronecker(l, m, r, n), 1 / trace), KroneckerTestData.Dense(squared), tol, tol, "L⊗R/Tr(H)");

        KroneckerPair shampoo = KroneckerApproximations.Shampoo(stats);
        // Square roots from syevd: (L^{1/2})² = L to a few ulps of ‖L‖ times the order.
        double rootTol = Tolerance.ForPrecision<double>(Math.Max(m, n) * count);
        Tolerance.AssertClose(l, DenseMatrix.Multiply(shampoo.A, m, m, shampoo.A, m, m), 0, rootTol * DenseMatrix.FrobeniusNorm(l), "(L^{1/2})²");
        Tolerance.AssertClose(r, DenseMatrix.Multiply(shampoo.B, n, n, shampoo.B, n, n), 0, rootTol * DenseMatrix.FrobeniusNorm(r), "(R^{1/2})²");
    }

    [Fact]
    public void Statistics_Float32StorageIsAccumulatedInDouble()
    {
        const int m = 8;
        const int n = 40;
        const int count = 30;
        var sample = new GradientSample<double>(SeededRandom.Gaussian(810, count * m * n), count, m, n);
        GradientSample<float> single = sample.ToSingle();
        ShampooStatistics fromDouble = KroneckerApproximations.ComputeStatistics(single.ToDouble());
        ShampooStatistics fromSingle = KroneckerApproximations.ComputeStatistics(single, null, chunkExamples: 7);
        double tol = Tolerance.ForPrecision<double>(count * n);
        Tolerance.AssertClose(fromDouble.L, fromSingle.L, tol, tol, "L");
        Tolerance.AssertClose(fromDouble.R, fromSingle.R, tol, tol, "R");
    }

    [Fact]
    public void KFac_OfRankOneGradients_MatchesDenseExpectations()
    {
        const int m = 3;
        const int n = 5;
        const int count = 8;
        double[] errors = SeededRandom.Gaussian(820, count * m);
        double[] inputs = SeededRandom.Gaussian(821, count * n);
        double[] weights = SeededRandom.Uniform(822, count, 0.1, 1);
        double total = weights.Sum();
        var ddt = new double[m * m];
        var aat = new double[n * n];
        for (int i = 0; i < count; i++)
        {
            double[] d = errors.AsSpan(i * m, m).ToArray();
            double[] a = inputs.AsSpan(i * n, n).ToArray();
            ddt = DenseMatrix.Add(ddt, DenseMatrix.Scale(DenseMatrix.OuterProduct(d, d), weights[i] / total));
            aat = DenseMatrix.Add(aat, DenseMatrix.Scale(DenseMatrix.OuterProduct(a, a), weights[i] / total));
        }

        KroneckerPair kfac = KroneckerApproximations.KFac(new ReadOnlyMatrixView<double>(errors, count, m), new ReadOnlyMatrixView<double>(inputs, count, n), weights);
        double tol = Tolerance.ForPrecision<double>(count);
        Tolerance.AssertClose(ddt, kfac.A, tol, tol, "E[δδᵀ]");
        Tolerance.AssertClose(aat, kfac.B, tol, tol, "E[aaᵀ]");

        float[] errorsSingle = errors.Select(x => (float)x).ToArray();
        float[] inputsSingle = inputs.Select(x => (float)x).ToArray();
        KroneckerPair fromSingle = KroneckerApproximations.KFac(new ReadOnlyMatrixView<float>(errorsSingle, count, m), new ReadOnlyMatrixView<float>(inputsSingle, count, n), weights);
        // Only the inputs' fp32 rounding (2⁻²⁴ relative, squared products 2⁻²³) separates the two.
        Tolerance.AssertClose(ddt, fromSingle.A, 4 * Tolerance.MachineEpsilon<float>(), 4 * Tolerance.MachineEpsilon<float>(), "E[δδᵀ] from fp32");

        Assert.Throws<ArgumentException>(() => KroneckerApproximations.KFac(new ReadOnlyMatrixView<double>(errors, count, m), new ReadOnlyMatrixView<double>(inputs, count - 1, n)));
    }

    [Fact]
    public void ShampooSquared_RejectsAllZeroGradients()
    {
        var zero = new GradientSample<double>(new double[12], 2, 2, 3);
        Assert.Throws<InvalidOperationException>(() => KroneckerApproximations.ShampooSquared(KroneckerApproximations.ComputeStatistics(zero)));
    }

    [Theory]
    [InlineData(0.5, 0.0)]
    [InlineData(2.0, 0.0)]
    [InlineData(-0.25, 1e-3)]
    [InlineData(-1.0, 0.0)]
    [InlineData(1.7, 0.0)]
    public void MatrixPower_MatchesJacobiMatrixFunction(double exponent, double epsilon)
    {
        const int n = 7;
        double[] a = SeededRandom.SymmetricPositiveDefinite(830, n, shift: 0.1);
        double[] expected = JacobiEigen.MatrixFunction(a, n, v => Math.Pow(Math.Max(v, 0) + epsilon, exponent));
        double[] actual = MatrixPower.Compute(a, n, exponent, epsilon);
        // Eigenvalue errors ~ n·ε‖A‖ are amplified by |s|·λ^{s−1}; with λ_min ≥ 0.1 and |s| ≤ 2 this is a modest constant.
        double tol = Tolerance.ForPrecision<double>(n, safetyFactor: 64);
        Tolerance.AssertClose(expected, actual, 0, tol * DenseMatrix.FrobeniusNorm(expected), $"A^{exponent}");
    }

    [Fact]
    public void MatrixPower_ClampsRoundOffNegativeEigenvaluesAndHandlesZeroExponent()
    {
        const int n = 4;
        // Rank-two PSD matrix with a tiny negative perturbation on its null space.
        double[] u = KroneckerTestData.Unit(SeededRandom.Gaussian(840, n));
        double[] v = KroneckerTestData.Unit(SeededRandom.Gaussian(841, n));
        double[] a = DenseMatrix.Add(DenseMatrix.Add(DenseMatrix.OuterProduct(u, u), DenseMatrix.Scale(DenseMatrix.OuterProduct(v, v), 2)),
            DenseMatrix.Scale(DenseMatrix.Identity(n), -1e-15));
        double[] root = MatrixPower.Compute(a, n, 0.5);
        Assert.All(root, x => Assert.True(double.IsFinite(x)));
        double[] square = DenseMatrix.Multiply(root, n, n, root, n, n);
        Tolerance.AssertClose(a, square, 0, 1e-13, "(A^{1/2})² with clamped eigenvalues");
        Tolerance.AssertClose(DenseMatrix.Identity(n), MatrixPower.Compute(a, n, 0.0), 0, 1e-14, "A⁰ = I");

        // An exactly singular matrix (syevd returns exact zeros for a diagonal one) has no negative power without ε.
        double[] singular = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0];
        Assert.Throws<InvalidOperationException>(() => MatrixPower.Compute(singular, n, -0.5));
        double one = 1 / Math.Sqrt(1 + 1e-6);
        double two = 1 / Math.Sqrt(2 + 1e-6);
        double zero = 1 / Math.Sqrt(1e-6);
        Tolerance.AssertClose([one, 0, 0, 0, 0, zero, 0, 0, 0, 0, two, 0, 0, 0, 0, zero],
            MatrixPower.Compute(singular, n, -0.5, epsilon: 1e-6), 1e-12, 0, "(A + εI)^{-1/2}");
        Assert.Throws<ArgumentOutOfRangeException>(() => MatrixPower.Compute(a, n, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => MatrixPower.Compute(a, n, 0.5, epsilon: -1));
    }

    [Fact]
    public void Statistics_PublicConstructorValidatesItsFactors()
    {
        double[] l = [2, 1, 1, 3];
        double[] r = [4];
        var stats = new ShampooStatistics(l, r, 2, 1);
        Assert.Equal(5, stats.Trace);
        Assert.Same(l, stats.L);

        Assert.Throws<ArgumentException>(() => new ShampooStatistics([2, 1, 1], r, 2, 1));
        Assert.Throws<ArgumentException>(() => new ShampooStatistics([2, 1, 0, 3], r, 2, 1));
        Assert.Throws<ArgumentException>(() => new ShampooStatistics(l, [double.NaN], 2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShampooStatistics([], r, 0, 1));
    }

    [Fact]
    public void Statistics_PublicConstructor_SymmetrisesFp32RoundOff_RejectsRealAsymmetry()
    {
        // L = G Gᵀ summed in fp32, each triangle in its own order as a gemm may do: asymmetric in the last bits.
        const int m = 6;
        const int k = 500;
        double[] g = SeededRandom.Gaussian(91, m * k);
        var l = new double[m * m];
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < m; j++)
            {
                float sum = 0;
                for (var t = 0; t < k; t++)
                {
                    int p = i <= j ? t : k - 1 - t;
                    sum += (float)g[(i * k) + p] * (float)g[(j * k) + p];
                }

                l[(i * m) + j] = sum;
            }
        }

        double[] original = (double[])l.Clone();
        Assert.NotEqual(l, DenseMatrix.Transpose(l, m, m));

        var stats = new ShampooStatistics(l, [4], m, 1);
        Assert.Equal(original, l);
        Assert.NotSame(l, stats.L);
        Assert.Equal(stats.L, DenseMatrix.Transpose(stats.L, m, m));
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < m; j++)
            {
                Assert.Equal(0.5 * (l[(i * m) + j] + l[(j * m) + i]), stats.L[(i * m) + j]);
            }
        }

        // Just past the tolerance, and far past it: rejected.
        double norm = Math.Sqrt(l.Sum(x => x * x));
        double[] justPast = DenseMatrix.Transpose(stats.L, m, m);
        justPast[1] += 1.01 * ShampooStatistics.SymmetryTolerance * norm;
        Assert.Throws<ArgumentException>(() => new ShampooStatistics(justPast, [4], m, 1));
        double[] skewed = (double[])stats.L.Clone();
        skewed[1] += 1e-3 * norm;
        Assert.Throws<ArgumentException>(() => new ShampooStatistics(skewed, [4], m, 1));
    }
}
