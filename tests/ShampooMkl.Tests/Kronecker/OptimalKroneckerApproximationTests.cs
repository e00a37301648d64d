using ShampooMkl.Kronecker;
using ShampooMkl.Linalg;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Kronecker;

/// <summary>The power iteration against dense Van Loan + Jacobi SVD references, exact-Kronecker samples, the 2-class
/// logistic-regression Fisher, and weighted samples.</summary>
public sealed class OptimalKroneckerApproximationTests
{
    private static readonly PowerIterationOptions Converge = new() { MaxIterations = 500, Tolerance = 1e-13 };

    [Theory]
    [InlineData(3, 4)]
    [InlineData(5, 2)]
    public void ExactKroneckerH_OptimalAndShampooSquaredAreExact_ShampooIsNot(int m, int n)
    {
        (double[] stack, double[] a, double[] b) = KroneckerTestData.ExactKroneckerSample(7 * m + n, m, n);
        int count = m * n;
        var sample = new GradientSample<double>(stack, count, m, n);
        double[] h = DenseMatrix.Scale(DenseMatrix.Kronecker(a, m, b, n), 1.0 / count);
        // The construction is exact in real arithmetic; the sample carries the round-off of forming A^{1/2} Z B^{1/2}
        // (sums of length m + n) and our sums have length N·m·n, so every comparison allows c·(N·m·n)·ε.
        double tol = Tolerance.ForPrecision<double>(count * m * n);
        Tolerance.AssertClose(h, KroneckerTestData.DenseH(sample), 0, tol * DenseMatrix.FrobeniusNorm(h), "construction: H = A⊗B/N");

        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        OptimalKroneckerResult optimal = OptimalKroneckerApproximation.Compute(sample, Converge);
        ShampooStatistics stats = KroneckerApproximations.ComputeStatistics(sample);
        KroneckerPair squared = KroneckerApproximations.ShampooSquared(stats);
        KroneckerPair shampoo = KroneckerApproximations.Shampoo(stats);

        Assert.True(optimal.Converged, $"did not converge: change {optimal.RelativeChange:E3}");
        Assert.True(optimal.Iterations <= 3, $"R(H) is rank one, so one step is exact; took {optimal.Iterations}");
        Tolerance.AssertClose(1.0, optimal.Cosine(hNorm), 0, tol, "cos(H, optimal)");
        Tolerance.AssertClose(1.0, KroneckerSimilarity.Cosine(sample, squared, hNorm), 0, tol, "cos(H, Shampoo²)");
        // Both are H itself, scale included, not only in direction.
        Tolerance.AssertClose(h, KroneckerTestData.Dense(optimal.Approximation), 0, tol * DenseMatrix.FrobeniusNorm(h), "σ·A⊗B = H");
        Tolerance.AssertClose(h, KroneckerTestData.Dense(squared), 0, tol * DenseMatrix.FrobeniusNorm(h), "L⊗R/Tr(H) = H");

        // Shampoo is L^{1/2} ⊗ R^{1/2} ∝ A^{1/2} ⊗ B^{1/2}, so cos = c(A)·c(B) with c(X) = ⟨X, X^{1/2}⟩/(‖X‖‖X^{1/2}‖)
        // = tr(X^{3/2}) / (‖X‖_F √tr X), which is 1 only for a flat spectrum (Cauchy–Schwarz on the eigenvalues).
        double expected = SpectralCosine(a, m) * SpectralCosine(b, n);
        double shampooCosine = KroneckerSimilarity.Cosine(sample, shampoo, hNorm);
        Tolerance.AssertClose(expected, shampooCosine, 0, tol, "cos(H, Shampoo)");
        Assert.True(shampooCosine < 1 - 1e-3, $"Shampoo should be strictly worse than the optimum here, cos = {shampooCosine:R}");
    }

    [Fact]
    public void ExactKroneckerH_Float32Storage_StaysExact()
    {
        const int m = 4;
        const int n = 3;
        (double[] stack, _, _) = KroneckerTestData.ExactKroneckerSample(91, m, n);
        GradientSample<float> sample = new GradientSample<double>(stack, m * n, m, n).ToSingle();
        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        OptimalKroneckerResult optimal = OptimalKroneckerApproximation.Compute(sample, Converge);
        KroneckerPair squared = KroneckerApproximations.ShampooSquared(KroneckerApproximations.ComputeStatistics(sample));

        // Rounding to fp32 moves H a distance δ ≈ 2⁻²⁴‖H‖ off the Kronecker set; the cosine to the nearest Kronecker
        // product drops only by about δ²/2, far below fp64 round-off of the sums, so the fp64 bound still applies.
        double tol = Tolerance.ForPrecision<double>(m * n * m * n);
        Tolerance.AssertClose(1.0, optimal.Cosine(hNorm), 0, tol, "cos(H, optimal), fp32 storage");
        Tolerance.AssertClose(1.0, KroneckerSimilarity.Cosine(sample, squared, hNorm), 0, tol, "cos(H, Shampoo²), fp32 storage");
    }

    [Theory]
    [InlineData(3, 5, 7, false)]
    [InlineData(4, 4, 9, true)]
    [InlineData(2, 6, 4, true)]
    public void SmallDenseH_MatchesVanLoanTopSingularPair(int m, int n, int count, bool weighted)
    {
        double[] stack = SeededRandom.Gaussian(1000 + (m * 10) + n, count * m * n);
        double[] weights = weighted ? SeededRandom.Uniform(2000 + count, count, 0.1, 2.0) : [];
        var sample = new GradientSample<double>(stack, count, m, n, weights);
        double[] h = KroneckerTestData.DenseH(sample);
        double[] r = DenseMatrix.VanLoanRearrangement(h, m, n);
        (double sigma, double[] u, double[] v) = JacobiSvd.Top(r, m * m, n * n);

        OptimalKroneckerResult result = OptimalKroneckerApproximation.Compute(sample, Converge);

        Assert.True(result.Converged, $"did not converge in {result.Iterations}: change {result.RelativeChange:E3}");
        // σ is a Rayleigh quotient, accurate to the square of the converged direction error (≤ 1e-26) plus
        // round-off in sums over N·m·n terms; the singular vectors are accurate to the tolerance 1e-13 itself.
        double tol = Tolerance.ForPrecision<double>(count * m * n);
        Tolerance.AssertClose(sigma, result.Scale, tol, 0, "σ₁(R(H))");
        Tolerance.AssertCloseUpToSign(u, result.Unit.A, 0, 1e-12, "A = u₁");
        Tolerance.AssertCloseUpToSign(v, result.Unit.B, 0, 1e-12, "B = v₁");

        double[] reference = DenseMatrix.Kronecker(DenseMatrix.Scale(u, sigma), m, v, n);
        double[] ours = KroneckerTestData.Dense(result.Approximation);
        Assert.True(KroneckerTestData.RelativeDistance(reference, ours) < 1e-12, "σ·A⊗B differs from σ₁ u₁⊗v₁");
        double denseCosine = DenseMatrix.CosineSimilarity(h, ours);
        Tolerance.AssertClose(denseCosine, DenseMatrix.CosineSimilarity(h, reference), 0, 1e-12, "cos(H, ·) vs reference");
        Tolerance.AssertClose(denseCosine, result.Cosine(DenseMatrix.FrobeniusNorm(h)), 0, tol, "cos from σ/‖H‖");
        // Eckart–Young: the residual of the best rank-one fit is √(‖R‖² − σ₁²).
        double residual = DenseMatrix.FrobeniusNorm(DenseMatrix.Add(h, DenseMatrix.Scale(ours, -1))) / DenseMatrix.FrobeniusNorm(h);
        Tolerance.AssertClose(residual, result.RelativeResidual(DenseMatrix.FrobeniusNorm(h)), 1e-8, 0, "relative residual");
    }

    [Fact]
    public void FirstStep_IsShampooSquaredDirection()
    {
        const int m = 4;
        const int n = 6;
        const int count = 10;
        var sample = new GradientSample<double>(SeededRandom.Gaussian(31, count * m * n), count, m, n, SeededRandom.Uniform(32, count, 0.5, 1.5));
        ShampooStatistics stats = KroneckerApproximations.ComputeStatistics(sample);

        OptimalKroneckerResult one = OptimalKroneckerApproximation.Compute(sample, new PowerIterationOptions { MaxIterations = 1 });

        // From (I, I): A₁ ∝ Σ wᵢ Gᵢ I Gᵢᵀ = L and B₁ ∝ Σ wᵢ Gᵢᵀ I Gᵢ = R.
        double tol = Tolerance.ForPrecision<double>(count * n);
        Assert.Equal(1, one.Iterations);
        Tolerance.AssertClose(KroneckerTestData.Unit(stats.L), one.Unit.A, 0, tol, "A₁ ∝ L");
        Tolerance.AssertClose(KroneckerTestData.Unit(stats.R), one.Unit.B, 0, tol, "B₁ ∝ R");
        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        Tolerance.AssertClose(KroneckerSimilarity.Cosine(sample, KroneckerApproximations.ShampooSquared(stats), hNorm), one.Cosine(hNorm), 0, tol,
            "cos(H, Shampoo²) = cos(H, one power step)");
    }

    [Theory]
    [InlineData(null)]
    [InlineData(true)]
    [InlineData(false)]
    public void BothFactorsAreUpdatedFromThePreviousIterate(bool? factorGram)
    {
        const int m = 3;
        const int n = 4;
        const int count = 5;
        var sample = new GradientSample<double>(SeededRandom.Gaussian(41, count * m * n), count, m, n);
        double[] r = DenseMatrix.VanLoanRearrangement(KroneckerTestData.DenseH(sample), m, n);
        double[] rt = DenseMatrix.Transpose(r, m * m, n * n);

        // Jacobi-style: a₁ ∝ R b₀, b₁ ∝ Rᵀ a₀, then a₂ ∝ R b₁, b₂ ∝ Rᵀ a₁ (not Rᵀ a₂ as alternating updates would give).
        double[] a0 = DenseMatrix.Identity(m);
        double[] b0 = DenseMatrix.Identity(n);
        double[] a1 = KroneckerTestData.Unit(DenseMatrix.MultiplyVector(r, m * m, n * n, b0));
        double[] b1 = KroneckerTestData.Unit(DenseMatrix.MultiplyVector(rt, n * n, m * m, a0));
        double[] a2 = KroneckerTestData.Unit(DenseMatrix.MultiplyVector(r, m * m, n * n, b1));
        double[] b2 = KroneckerTestData.Unit(DenseMatrix.MultiplyVector(rt, n * n, m * m, a1));

        // null: each side's reduction chosen by cost; true: both through the other factor's Gram factor (syrk); false: plain gemms.
        OptimalKroneckerResult two = OptimalKroneckerApproximation.Compute(sample, new PowerIterationOptions { MaxIterations = 2, Tolerance = 0 },
            blas: null, chunkExamples: 2, factorGram);

        double tol = Tolerance.ForPrecision<double>(count * m * n);
        Assert.Equal(2, two.Iterations);
        Assert.False(two.Converged);
        Tolerance.AssertClose(a2, two.Unit.A, 0, tol, "A₂");
        Tolerance.AssertClose(b2, two.Unit.B, 0, tol, "B₂");
        double change = DenseMatrix.FrobeniusNorm(DenseMatrix.Add(a2, DenseMatrix.Scale(a1, -1)))
            + DenseMatrix.FrobeniusNorm(DenseMatrix.Add(b2, DenseMatrix.Scale(b1, -1)));
        Tolerance.AssertClose(change, two.RelativeChange, 1e-10, tol, "‖A₂ − A₁‖ + ‖B₂ − B₁‖");
        Assert.Equal(2, two.ChangeHistory.Count);
        Assert.Equal(two.Unit.A, DenseMatrix.Transpose(two.Unit.A, m, m));
        Assert.Equal(two.Unit.B, DenseMatrix.Transpose(two.Unit.B, n, n));
    }

    [Fact]
    public void ChunkingAndStoragePrecision_DoNotChangeTheResult()
    {
        const int m = 5;
        const int n = 3;
        const int count = 11;
        double[] stack = SeededRandom.Gaussian(51, count * m * n);
        double[] weights = SeededRandom.Uniform(52, count, 0.2, 1.0);
        var sample = new GradientSample<double>(stack, count, m, n, weights);
        var options = new PowerIterationOptions { MaxIterations = 6, Tolerance = 0 };
        OptimalKroneckerResult whole = OptimalKroneckerApproximation.Compute(sample, options);

        double tol = Tolerance.ForPrecision<double>(count * m * n);
        foreach (int chunk in new[] { 1, 2, 4, 10 })
        {
            OptimalKroneckerResult chunked = OptimalKroneckerApproximation.Compute(sample, options, blas: null, chunkExamples: chunk);
            Tolerance.AssertClose(whole.Unit.A, chunked.Unit.A, 0, tol, $"A, chunks of {chunk}");
            Tolerance.AssertClose(whole.Unit.B, chunked.Unit.B, 0, tol, $"B, chunks of {chunk}");
            Tolerance.AssertClose(whole.Scale, chunked.Scale, tol, 0, $"σ, chunks of {chunk}");
        }

        // fp32 storage of the same (fp32-representable) values must give the same fp64 answer: promotion is exact.
        GradientSample<float> single = sample.ToSingle();
        GradientSample<double> roundTrip = single.ToDouble();
        OptimalKroneckerResult fromDouble = OptimalKroneckerApproximation.Compute(roundTrip, options);
        OptimalKroneckerResult fromSingle = OptimalKroneckerApproximation.Compute(single, options, blas: null, chunkExamples: 3);
        Tolerance.AssertClose(fromDouble.Unit.A, fromSingle.Unit.A, 0, tol, "A, fp32 storage");
        Tolerance.AssertClose(fromDouble.Unit.B, fromSingle.Unit.B, 0, tol, "B, fp32 storage");
        Tolerance.AssertClose(fromDouble.Scale, fromSingle.Scale, tol, 0, "σ, fp32 storage");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InterfaceRoute_BuildsOneOperatorPerRun_AndMatchesEveryRouteBitForBit(bool single)
    {
        const int m = 6;
        const int n = 4;
        const int count = 9;
        double[] stack = SeededRandom.Gaussian(55, count * m * n);
        double[] weights = SeededRandom.Uniform(56, count, 0.2, 1.0);
        var sample = new GradientSample<double>(stack, count, m, n, weights);
        var options = new PowerIterationOptions { MaxIterations = 5, Tolerance = 0 };
        IKroneckerSample viewed = single ? sample.ToSingle() : sample;
        Assert.IsAssignableFrom<IKroneckerOperatorSource>(viewed);

        // Typed route, interface route (one operator for the run) and the sample's own per-call members (what the
        // interface route did before) must agree exactly: the operator's buffers are scratch fully rewritten each pass.
        OptimalKroneckerResult typed = single
            ? OptimalKroneckerApproximation.Compute((GradientSample<float>)viewed, options)
            : OptimalKroneckerApproximation.Compute(sample, options);
        OptimalKroneckerResult throughInterface = OptimalKroneckerApproximation.Compute(viewed, options);
        OptimalKroneckerResult perCall = OptimalKroneckerApproximation.Compute(new PerCallSample(viewed), options);

        foreach (OptimalKroneckerResult other in new[] { throughInterface, perCall })
        {
            Assert.Equal(typed.Unit.A, other.Unit.A);
            Assert.Equal(typed.Unit.B, other.Unit.B);
            Assert.Equal(typed.Scale, other.Scale);
            Assert.Equal(typed.ChangeHistory, other.ChangeHistory);
        }
    }

    [Fact]
    public void Progress_ReportsEveryPassWithThePreviousInnerProduct()
    {
        const int m = 3;
        const int n = 3;
        const int count = 6;
        var sample = new GradientSample<double>(SeededRandom.Gaussian(61, count * m * n), count, m, n);
        var steps = new List<PowerIterationStep>();
        OptimalKroneckerResult result = OptimalKroneckerApproximation.Compute(sample,
            new PowerIterationOptions { MaxIterations = 4, Tolerance = 0, Progress = steps.Add });

        Assert.Equal([1, 2, 3, 4], steps.Select(s => s.Iteration));
        Assert.Equal(result.ChangeHistory, steps.Select(s => s.RelativeChange));
        // Pass 1 starts from unit identities, whose inner product with H is Tr(H)/√(m·n).
        double trace = KroneckerApproximations.ComputeStatistics(sample).Trace;
        Tolerance.AssertClose(trace / Math.Sqrt(m * n), steps[0].PreviousInnerProduct, Tolerance.ForPrecision<double>(count * m * n), 0, "⟨H, I⊗I⟩/√(mn)");
    }

    [Fact]
    public void WarmStart_FromTheOptimumConvergesAtOnce()
    {
        const int m = 4;
        const int n = 5;
        const int count = 8;
        var sample = new GradientSample<double>(SeededRandom.Gaussian(71, count * m * n), count, m, n);
        OptimalKroneckerResult cold = OptimalKroneckerApproximation.Compute(sample, Converge);
        OptimalKroneckerResult warm = OptimalKroneckerApproximation.Compute(sample,
            new PowerIterationOptions { Tolerance = 1e-10, Start = cold.Approximation });

        Assert.Equal(1, warm.Iterations);
        Tolerance.AssertClose(cold.Scale, warm.Scale, 1e-12, 0, "σ");
    }

    [Fact]
    public void RejectsBadOptionsAndZeroH()
    {
        var sample = new GradientSample<double>(SeededRandom.Gaussian(81, 12), 2, 2, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimalKroneckerApproximation.Compute(sample, new PowerIterationOptions { MaxIterations = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimalKroneckerApproximation.Compute(sample, new PowerIterationOptions { Tolerance = double.NaN }));
        var wrongShape = new KroneckerPair(DenseMatrix.Identity(3), 3, DenseMatrix.Identity(3), 3);
        Assert.Throws<ArgumentException>(() => OptimalKroneckerApproximation.Compute(sample, new PowerIterationOptions { Start = wrongShape }));
        var nonSymmetric = new KroneckerPair([1, 2, 0, 1], 2, DenseMatrix.Identity(3), 3);
        Assert.Throws<ArgumentException>(() => OptimalKroneckerApproximation.Compute(sample, new PowerIterationOptions { Start = nonSymmetric }));

        var zero = new GradientSample<double>(new double[12], 2, 2, 3);
        Assert.Throws<InvalidOperationException>(() => OptimalKroneckerApproximation.Compute(zero));
    }

    private static double SpectralCosine(double[] x, int order)
    {
        double[] root = JacobiEigen.MatrixFunction(x, order, v => Math.Sqrt(Math.Max(v, 0)));
        return DenseMatrix.CosineSimilarity(x, root);
    }
}

/// <summary>Forwards to another sample's <see cref="IKroneckerSample"/> members, hiding any faster route it offers.</summary>
internal sealed class PerCallSample(IKroneckerSample inner) : IKroneckerSample
{
    public int Rows => inner.Rows;

    public int Cols => inner.Cols;

    public void Apply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> nextA, Span<double> nextB, BlasBackend? blas) =>
        inner.Apply(a, b, nextA, nextB, blas);

    public double InnerProduct(ReadOnlySpan<double> a, ReadOnlySpan<double> b, BlasBackend? blas) => inner.InnerProduct(a, b, blas);
}
