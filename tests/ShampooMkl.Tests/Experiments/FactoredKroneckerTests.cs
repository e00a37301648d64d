using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Kronecker;
using ShampooMkl.Tests.Kronecker;
using ShampooMkl.Tests.Linalg;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Experiments;

/// <summary>The factored metrics agree with the library's dense ones (and with densely formed H) on every kind of sample.</summary>
public sealed class FactoredKroneckerTests
{
    private static readonly PowerIterationOptions Converge = new() { MaxIterations = 2000, Tolerance = 1e-13 };

    public static TheoryData<string> Kinds => ["rank-one", "shared-inputs", "mixed", "dense-only"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Metrics_MatchTheDenseLibraryPathAndDenseH(string kind)
    {
        const int m = 3;
        const int n = 5;
        var factored = ExperimentTestData.Sample(kind, 40, m, n);
        var dense = factored.ToGradientSample();
        double[] h = KroneckerTestData.DenseH(dense);
        double hNorm = DenseMatrix.FrobeniusNorm(h);
        double tol = Tolerance.ForPrecision<double>(dense.Count * m * n * (m + n));

        Tolerance.AssertClose(hNorm, FactoredKronecker.HNorm(factored), tol, 0, "‖H‖");
        Tolerance.AssertClose(KroneckerSimilarity.ComputeHNorm(dense), FactoredKronecker.HNorm(factored), tol, 0, "‖H‖ vs library");

        ShampooStatistics expected = KroneckerApproximations.ComputeStatistics(dense);
        ShampooStatistics actual = FactoredKronecker.Statistics(factored);
        Tolerance.AssertClose(expected.L, actual.L, tol, tol * DenseMatrix.FrobeniusNorm(expected.L), "L");
        Tolerance.AssertClose(expected.R, actual.R, tol, tol * DenseMatrix.FrobeniusNorm(expected.R), "R");
        Tolerance.AssertClose(expected.Trace, actual.Trace, tol, 0, "Tr(H)");

        var pair = new KroneckerPair(SeededRandom.SymmetricPositiveDefinite(50, m), m, SeededRandom.SymmetricPositiveDefinite(51, n), n);
        Tolerance.AssertClose(DenseMatrix.FrobeniusInner(h, KroneckerTestData.Dense(pair)), FactoredKronecker.InnerProduct(factored, pair), tol, 0, "⟨H, A⊗B⟩");
        Tolerance.AssertClose(DenseMatrix.CosineSimilarity(h, KroneckerTestData.Dense(pair)), FactoredKronecker.Cosine(factored, pair, hNorm), tol, 0, "cos(H, A⊗B)");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PowerIteration_FollowsTheLibrarysIterates(string kind)
    {
        const int m = 4;
        const int n = 3;
        var factored = ExperimentTestData.Sample(kind, 30, m, n);
        var dense = factored.ToGradientSample();
        var few = new PowerIterationOptions { MaxIterations = 3, Tolerance = 0 };

        OptimalKroneckerResult library = OptimalKroneckerApproximation.Compute(dense, few);
        OptimalKroneckerResult ours = FactoredKronecker.Optimal(factored, few);
        double tol = Tolerance.ForPrecision<double>(dense.Count * m * n * (m + n), safetyFactor: 64);
        Assert.Equal(3, ours.Iterations);
        Tolerance.AssertClose(library.Unit.A, ours.Unit.A, tol, tol, "A₃");
        Tolerance.AssertClose(library.Unit.B, ours.Unit.B, tol, tol, "B₃");
        Tolerance.AssertClose(library.Scale, ours.Scale, tol, 0, "σ");

        // One pass from (I, I) is Shampoo² (docs/design.md, 'Conventions'): the first iterate is L/‖L‖, R/‖R‖.
        OptimalKroneckerResult one = FactoredKronecker.Optimal(factored, new PowerIterationOptions { MaxIterations = 1, Tolerance = 0 });
        ShampooStatistics stats = FactoredKronecker.Statistics(factored);
        Tolerance.AssertClose(KroneckerTestData.Unit(stats.L), one.Unit.A, tol, tol, "A₁ ∝ L");
        Tolerance.AssertClose(KroneckerTestData.Unit(stats.R), one.Unit.B, tol, tol, "B₁ ∝ R");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ConvergedOptimum_HasTheLargestCosineOfAnyKroneckerProduct(string kind)
    {
        const int m = 4;
        const int n = 6;
        var factored = ExperimentTestData.Sample(kind, 50, m, n);
        double hNorm = FactoredKronecker.HNorm(factored);
        OptimalKroneckerResult optimal = FactoredKronecker.Optimal(factored, Converge);
        Assert.True(optimal.Converged, $"power iteration did not converge: change {optimal.RelativeChange:E2}");
        double best = optimal.Cosine(hNorm);

        // Against the top singular value of the rearranged dense H: the optimum is σ₁/‖H‖ (Van Loan & Pitsianis).
        double[] h = KroneckerTestData.DenseH(factored.ToGradientSample());
        (double sigma, _, _) = JacobiSvd.Top(DenseMatrix.VanLoanRearrangement(h, m, n), m * m, n * n);
        Tolerance.AssertClose(sigma / DenseMatrix.FrobeniusNorm(h), best, 1e-10, 0, "cos(H, optimal) = σ₁/‖H‖");

        // Maximising ⟨H, A⊗B⟩/‖A⊗B‖ over Kronecker products: no other product may beat it. The converged cosine is off by
        // O(tolerance²) and the evaluations by a few ulps, hence the 1e-12 slack.
        ShampooStatistics stats = FactoredKronecker.Statistics(factored);
        var others = new List<(string Name, KroneckerPair Pair)>
        {
            ("Shampoo²", KroneckerApproximations.ShampooSquared(stats)),
            ("Shampoo", KroneckerApproximations.Shampoo(stats)),
            ("identity", new KroneckerPair(DenseMatrix.Identity(m), m, DenseMatrix.Identity(n), n)),
        };
        for (int seed = 0; seed < 5; seed++)
        {
            others.Add(($"random PSD #{seed}", new KroneckerPair(SeededRandom.SymmetricPositiveDefinite(60 + seed, m), m, SeededRandom.SymmetricPositiveDefinite(70 + seed, n), n)));
        }

        foreach (var (name, pair) in others)
        {
            double cosine = FactoredKronecker.Cosine(factored, pair, hNorm);
            Assert.InRange(cosine, 0, 1 + 1e-12);
            Assert.True(best >= cosine - 1e-12, $"{name}: cos {cosine:R} exceeds the optimum's {best:R}");
        }
    }

    [Fact]
    public void Constructor_RejectsInconsistentInput()
    {
        Assert.Throws<ArgumentException>(() => new FactoredGradientSample(new double[6], 2, 3, new double[10], 2, 4));
        Assert.Throws<ArgumentException>(() => new FactoredGradientSample(new double[6], 2, 3, new double[4], 1, 4));
        Assert.Throws<ArgumentException>(() => new FactoredGradientSample(new double[6], 2, 3, new double[4], 1, 4, [0, 1]));
        Assert.Throws<ArgumentException>(() => new FactoredGradientSample([], 0, 3, [], 0, 4));
        Assert.Throws<ArgumentException>(() => new FactoredGradientSample([], 0, 3, [], 0, 4, dense: new double[13]));
        Assert.Throws<ArgumentException>(() => new FactoredGradientSample([double.NaN, 0, 0], 1, 3, new double[4], 1, 4));
        Assert.Throws<ArgumentException>(() => new FactoredGradientSample(new double[3], 1, 3, new double[4], 1, 4, null, [-1.0]));

        var sample = new FactoredGradientSample(new double[6], 2, 3, new double[4], 1, 4, [0, 0], [1.0, 1.0, 2.0], new double[12]);
        Assert.Equal([0.25, 0.25], sample.RankOneWeights.ToArray());
        Assert.Equal([0.5], sample.DenseWeights.ToArray());
        Assert.Throws<ArgumentException>(() => FactoredKronecker.InnerProduct(sample, new KroneckerPair(DenseMatrix.Identity(4), 4, DenseMatrix.Identity(3), 3)));
    }
}
