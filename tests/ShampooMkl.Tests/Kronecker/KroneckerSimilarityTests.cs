using ShampooMkl.Kronecker;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Kronecker;

/// <summary>The gradient-only metrics (Gram-trick ‖H‖, ⟨H, A⊗B⟩, cosines, errors) against a densely formed H.</summary>
public sealed class KroneckerSimilarityTests
{
    [Theory]
    [InlineData(3, 4, 6, false)]
    [InlineData(2, 7, 5, true)]
    [InlineData(4, 4, 16, true)]
    public void GramNorm_EqualsDenseFrobeniusNorm(int m, int n, int count, bool weighted)
    {
        double[] stack = SeededRandom.Gaussian(100 + count, count * m * n);
        double[] weights = weighted ? SeededRandom.Uniform(200 + count, count, 0.1, 1.0) : [];
        var sample = new GradientSample<double>(stack, count, m, n, weights);
        double expected = DenseMatrix.FrobeniusNorm(KroneckerTestData.DenseH(sample));
        // ‖H‖² sums N² squares of Gram entries, each a length-mn dot product: c·(N·m·n)·ε covers both.
        double tol = Tolerance.ForPrecision<double>(count * m * n);

        Tolerance.AssertClose(expected, KroneckerSimilarity.ComputeHNorm(sample), tol, 0, "‖H‖, one syrk");
        foreach (int width in new[] { 1, 5, m * n })
        {
            Tolerance.AssertClose(expected, KroneckerSimilarity.ComputeHNorm(sample, null, chunkColumns: width), tol, 0, $"‖H‖, column chunks of {width}");
        }
    }

    [Fact]
    public void GramNorm_Float32Storage_AccumulatesInDouble()
    {
        const int m = 16;
        const int n = 64;
        const int count = 12;
        GradientSample<float> single = new GradientSample<double>(SeededRandom.Gaussian(300, count * m * n), count, m, n).ToSingle();
        // The fp32 values are exact in fp64, so the dense reference sees the very same H; an fp32 Gram would be off by
        // about √(mn)·2⁻²⁴ ≈ 2e-6 relative, far outside this fp64 tolerance.
        double expected = DenseMatrix.FrobeniusNorm(KroneckerTestData.DenseH(single));
        double tol = Tolerance.ForPrecision<double>(count * m * n);
        Tolerance.AssertClose(expected, KroneckerSimilarity.ComputeHNorm(single), tol, 0, "‖H‖ of fp32 storage");
        Tolerance.AssertClose(expected, KroneckerSimilarity.ComputeHNorm(single, null, chunkColumns: 100), tol, 0, "‖H‖ of fp32 storage, chunked");
    }

    [Theory]
    [InlineData(3, 5, 7, 0)]
    [InlineData(4, 2, 9, 2)]
    [InlineData(5, 5, 3, 1)]
    public void InnerProduct_EqualsDenseFrobeniusInner(int m, int n, int count, int chunk)
    {
        var sample = new GradientSample<double>(SeededRandom.Gaussian(400 + m, count * m * n), count, m, n, SeededRandom.Uniform(401, count, 0.5, 1));
        var pair = new KroneckerPair(SeededRandom.SymmetricPositiveDefinite(402, m), m, SeededRandom.SymmetricPositiveDefinite(403, n), n);
        double[] h = KroneckerTestData.DenseH(sample);
        double[] approximation = KroneckerTestData.Dense(pair);
        double tol = Tolerance.ForPrecision<double>(count * m * n * (m + n));

        double inner = KroneckerSimilarity.InnerProduct(sample, pair, null, chunk);
        Tolerance.AssertClose(DenseMatrix.FrobeniusInner(h, approximation), inner, tol, 0, "⟨H, A⊗B⟩");

        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        double cosine = DenseMatrix.CosineSimilarity(h, approximation);
        Tolerance.AssertClose(cosine, KroneckerSimilarity.Cosine(sample, pair, hNorm), tol, 0, "cos(H, A⊗B)");
        Tolerance.AssertClose(cosine, KroneckerSimilarity.Cosine(inner, hNorm, pair), tol, 0, "cos from a known inner product");

        double error = DenseMatrix.FrobeniusNorm(DenseMatrix.Add(h, DenseMatrix.Scale(approximation, -1))) / DenseMatrix.FrobeniusNorm(h);
        // The expansion ‖H‖² − 2⟨H, Ĥ⟩ + ‖Ĥ‖² cancels; its absolute error is ~ε(‖H‖² + ‖Ĥ‖²), fine for an O(1) error.
        Tolerance.AssertClose(error, KroneckerSimilarity.RelativeError(inner, hNorm, pair), 1e-10, 0, "‖H − A⊗B‖/‖H‖");

        // Best rescaling c = ⟨H, Ĥ⟩/‖Ĥ‖² leaves √(1 − cos²) of ‖H‖.
        double c = inner / (pair.FrobeniusNorm * pair.FrobeniusNorm);
        double scaledError = DenseMatrix.FrobeniusNorm(DenseMatrix.Add(h, DenseMatrix.Scale(approximation, -c))) / DenseMatrix.FrobeniusNorm(h);
        Tolerance.AssertClose(scaledError, KroneckerSimilarity.ScaleFreeRelativeError(cosine), 1e-10, 0, "min_c ‖H − cĤ‖/‖H‖");
    }

    [Fact]
    public void InnerProduct_Float32StorageMatchesDouble()
    {
        const int m = 6;
        const int n = 5;
        const int count = 9;
        GradientSample<float> single = new GradientSample<double>(SeededRandom.Gaussian(500, count * m * n), count, m, n).ToSingle();
        var pair = new KroneckerPair(SeededRandom.SymmetricPositiveDefinite(501, m), m, SeededRandom.SymmetricPositiveDefinite(502, n), n);
        double expected = DenseMatrix.FrobeniusInner(KroneckerTestData.DenseH(single), KroneckerTestData.Dense(pair));
        Tolerance.AssertClose(expected, KroneckerSimilarity.InnerProduct(single, pair), Tolerance.ForPrecision<double>(count * m * n * (m + n)), 0, "⟨H, A⊗B⟩, fp32 storage");
    }

    [Fact]
    public void PairCosine_EqualsDenseCosineOfKroneckerProducts()
    {
        const int m = 3;
        const int n = 4;
        var x = new KroneckerPair(SeededRandom.SymmetricPositiveDefinite(600, m), m, SeededRandom.SymmetricPositiveDefinite(601, n), n);
        var y = new KroneckerPair(SeededRandom.SymmetricPositiveDefinite(602, m), m, SeededRandom.SymmetricPositiveDefinite(603, n), n);
        double expected = DenseMatrix.CosineSimilarity(KroneckerTestData.Dense(x), KroneckerTestData.Dense(y));
        Tolerance.AssertClose(expected, KroneckerSimilarity.Cosine(x, y), Tolerance.ForPrecision<double>(m * m * n * n), 0, "cos(X, Y)");
        Tolerance.AssertClose(1.0, KroneckerSimilarity.Cosine(x, x.Scaled(3.0)), 1e-15, 0, "scale-free");
    }

    [Fact]
    public void Metrics_RejectMismatchedShapes()
    {
        var sample = new GradientSample<double>(SeededRandom.Gaussian(700, 24), 2, 3, 4);
        var wrong = new KroneckerPair(DenseMatrix.Identity(4), 4, DenseMatrix.Identity(3), 3);
        Assert.Throws<ArgumentException>(() => KroneckerSimilarity.InnerProduct(sample, wrong));
        var other = new KroneckerPair(DenseMatrix.Identity(3), 3, DenseMatrix.Identity(4), 4);
        Assert.Throws<ArgumentException>(() => KroneckerSimilarity.Cosine(wrong, other));
    }

    [Fact]
    public void GradientSample_ValidatesItsInput()
    {
        Assert.Throws<ArgumentException>(() => new GradientSample<double>(new double[23], 2, 3, 4));
        Assert.Throws<ArgumentException>(() => new GradientSample<double>(new double[24], 2, 3, 4, [1.0]));
        Assert.Throws<ArgumentException>(() => new GradientSample<double>(new double[24], 2, 3, 4, [1.0, -0.5]));
        Assert.Throws<ArgumentException>(() => new GradientSample<double>(new double[24], 2, 3, 4, [0.0, 0.0]));
        var withNaN = new double[24];
        withNaN[17] = double.NaN;
        Assert.Throws<ArgumentException>(() => new GradientSample<double>(withNaN, 2, 3, 4));
        Assert.Throws<NotSupportedException>(() => new GradientSample<int>(new int[24], 2, 3, 4));

        var sample = new GradientSample<float>(new float[24], 2, 3, 4, [1.0, 3.0]);
        Assert.Equal([0.25, 0.75], sample.Weights.ToArray());
        Assert.Equal(3, sample.Gradient(1).Rows);
        Assert.Throws<ArgumentOutOfRangeException>(() => sample.Gradient(2));
    }
}
