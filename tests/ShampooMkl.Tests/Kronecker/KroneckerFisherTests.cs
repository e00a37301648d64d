using ShampooMkl.Kronecker;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Kronecker;

/// <summary>Fisher matrices of linear classifiers (the paper's exactly-Kronecker 2-class case) and class-weighted samples.</summary>
public sealed class KroneckerFisherTests
{
    private static readonly PowerIterationOptions Converge = new() { MaxIterations = 500, Tolerance = 1e-13 };

    /// <summary>
    /// Softmax regression with weights W (c×n) on inputs xᵢ: the per-(example, class) gradient of −log p(k|xᵢ) is
    /// Gᵢₖ = (pᵢ − e_k) xᵢᵀ, and the Fisher E_x E_{k∼p}[g gᵀ] is the sample {Gᵢₖ} with weights pᵢₖ/N.
    /// </summary>
    private static (double[] Stack, double[] Weights, double[] Errors, double[] Inputs, double[] Probabilities) SoftmaxFisherSample(
        int seed, int examples, int classes, int features)
    {
        double[] w = DenseMatrix.Scale(SeededRandom.Gaussian(seed, classes * features), 0.8);
        double[] x = SeededRandom.Gaussian(seed + 1, examples * features);
        double[] logits = DenseMatrix.Multiply(x, examples, features, DenseMatrix.Transpose(w, classes, features), features, classes);
        var p = new double[examples * classes];
        for (int i = 0; i < examples; i++)
        {
            double max = Enumerable.Range(0, classes).Max(k => logits[(i * classes) + k]);
            double sum = Enumerable.Range(0, classes).Sum(k => Math.Exp(logits[(i * classes) + k] - max));
            for (int k = 0; k < classes; k++)
            {
                p[(i * classes) + k] = Math.Exp(logits[(i * classes) + k] - max) / sum;
            }
        }

        int count = examples * classes;
        int size = classes * features;
        var stack = new double[count * size];
        var weights = new double[count];
        var errors = new double[count * classes];
        var inputs = new double[count * features];
        for (int i = 0; i < examples; i++)
        {
            for (int k = 0; k < classes; k++)
            {
                int row = (i * classes) + k;
                weights[row] = p[row] / examples;
                for (int c = 0; c < classes; c++)
                {
                    double delta = p[(i * classes) + c] - (c == k ? 1 : 0);
                    errors[(row * classes) + c] = delta;
                    for (int f = 0; f < features; f++)
                    {
                        stack[(row * size) + (c * features) + f] = delta * x[(i * features) + f];
                    }
                }

                Array.Copy(x, i * features, inputs, row * features, features);
            }
        }

        return (stack, weights, errors, inputs, p);
    }

    [Fact]
    public void TwoClassLogisticRegression_FisherIsKronecker_ShampooSquaredIsOptimal()
    {
        const int examples = 40;
        const int classes = 2;
        const int features = 6;
        (double[] stack, double[] weights, double[] errors, double[] inputs, double[] p) = SoftmaxFisherSample(5, examples, classes, features);
        var sample = new GradientSample<double>(stack, examples * classes, classes, features, weights);

        // Gauss–Newton of softmax cross-entropy: (1/N) Σ (diag(p) − ppᵀ) ⊗ xxᵀ. With two classes diag(p) − ppᵀ =
        // p₀p₁·uuᵀ, u = (1, −1), so H = uuᵀ ⊗ (1/N) Σ p₀p₁ xxᵀ is exactly one Kronecker product: Shampoo² (one power
        // step) is already the optimum, while K-FAC's E[δδᵀ] ⊗ E[aaᵀ] decouples p₀p₁ from xxᵀ and is not.
        double[] gaussNewton = new double[classes * features * classes * features];
        for (int i = 0; i < examples; i++)
        {
            var outputHessian = new double[classes * classes];
            for (int a = 0; a < classes; a++)
            {
                for (int b = 0; b < classes; b++)
                {
                    outputHessian[(a * classes) + b] = ((a == b ? p[(i * classes) + a] : 0) - (p[(i * classes) + a] * p[(i * classes) + b])) / examples;
                }
            }

            double[] x = inputs.AsSpan(i * classes * features, features).ToArray();
            gaussNewton = DenseMatrix.Add(gaussNewton, DenseMatrix.Kronecker(outputHessian, classes, DenseMatrix.OuterProduct(x, x), features));
        }

        double[] h = KroneckerTestData.DenseH(sample);
        double tol = Tolerance.ForPrecision<double>(examples * classes * features * classes);
        Tolerance.AssertClose(gaussNewton, h, 0, tol * DenseMatrix.FrobeniusNorm(h), "class-weighted Fisher = Gauss–Newton");

        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        Tolerance.AssertClose(DenseMatrix.FrobeniusNorm(h), hNorm, tol, 0, "‖H‖ by the Gram trick");
        OptimalKroneckerResult optimal = OptimalKroneckerApproximation.Compute(sample, Converge);
        KroneckerPair squared = KroneckerApproximations.ShampooSquared(KroneckerApproximations.ComputeStatistics(sample));
        double squaredCosine = KroneckerSimilarity.Cosine(sample, squared, hNorm);

        Tolerance.AssertClose(optimal.Cosine(hNorm), squaredCosine, 0, tol, "cos(H, Shampoo²) = cos(H, optimal)");
        Tolerance.AssertClose(1.0, squaredCosine, 0, tol, "cos(H, Shampoo²)");
        Tolerance.AssertClose(gaussNewton, KroneckerTestData.Dense(squared), 0, tol * DenseMatrix.FrobeniusNorm(h), "L⊗R/Tr(H) = H_GN");

        KroneckerPair kfac = KroneckerApproximations.KFac(
            new ReadOnlyMatrixView<double>(errors, examples * classes, classes),
            new ReadOnlyMatrixView<double>(inputs, examples * classes, features), weights);
        double kfacCosine = KroneckerSimilarity.Cosine(sample, kfac, hNorm);
        Tolerance.AssertClose(DenseMatrix.CosineSimilarity(h, KroneckerTestData.Dense(kfac)), kfacCosine, 0, tol, "cos(H, K-FAC) vs dense");
        Assert.True(kfacCosine < 1 - 1e-4, $"K-FAC should not be exact when p₀p₁ varies, cos = {kfacCosine:R}");
    }

    [Fact]
    public void TwoClassEmpiricalFisher_IsAlsoKronecker()
    {
        const int examples = 30;
        const int features = 4;
        (double[] stack, _, _, _, _) = SoftmaxFisherSample(9, examples, 2, features);
        double[] labels = SeededRandom.Uniform(10, examples);
        var empirical = new double[examples * 2 * features];
        for (int i = 0; i < examples; i++)
        {
            // One gradient per example, at the "true" label: still (p − e_y) xᵀ ∝ u xᵀ, so still exactly Kronecker.
            int label = labels[i] < 0.5 ? 0 : 1;
            Array.Copy(stack, ((i * 2) + label) * 2 * features, empirical, i * 2 * features, 2 * features);
        }

        var sample = new GradientSample<double>(empirical, examples, 2, features);
        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        KroneckerPair squared = KroneckerApproximations.ShampooSquared(KroneckerApproximations.ComputeStatistics(sample));
        Tolerance.AssertClose(1.0, KroneckerSimilarity.Cosine(sample, squared, hNorm), 0, Tolerance.ForPrecision<double>(examples * 2 * features * 2), "cos(H_emp, Shampoo²)");
    }

    [Fact]
    public void ThreeClassFisher_IsNotKronecker_OptimumBeatsShampooSquared()
    {
        const int examples = 25;
        const int classes = 3;
        const int features = 4;
        (double[] stack, double[] weights, _, _, _) = SoftmaxFisherSample(13, examples, classes, features);
        var sample = new GradientSample<double>(stack, examples * classes, classes, features, weights);
        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        OptimalKroneckerResult optimal = OptimalKroneckerApproximation.Compute(sample, Converge);
        double squared = KroneckerSimilarity.Cosine(sample, KroneckerApproximations.ShampooSquared(KroneckerApproximations.ComputeStatistics(sample)), hNorm);

        // The contrast that makes the 2-class test meaningful: here neither is exact and the optimum is strictly better.
        Assert.True(optimal.Cosine(hNorm) < 1 - 1e-6, $"cos(H, optimal) = {optimal.Cosine(hNorm):R}");
        Assert.True(squared < optimal.Cosine(hNorm), $"Shampoo² {squared:R} vs optimal {optimal.Cosine(hNorm):R}");
        Tolerance.AssertClose(DenseMatrix.CosineSimilarity(KroneckerTestData.DenseH(sample), KroneckerTestData.Dense(optimal.Approximation)),
            optimal.Cosine(hNorm), 0, 1e-12, "cos(H, optimal) vs dense");
    }

    [Fact]
    public void WeightedSample_MatchesRepeatedExamples()
    {
        const int m = 3;
        const int n = 4;
        int[] multiplicity = [3, 1, 2, 1];
        int count = multiplicity.Length;
        int size = m * n;
        double[] stack = SeededRandom.Gaussian(17, count * size);
        double[] errors = SeededRandom.Gaussian(18, count * m);
        double[] inputs = SeededRandom.Gaussian(19, count * n);
        var repeated = new List<double>();
        var repeatedErrors = new List<double>();
        var repeatedInputs = new List<double>();
        for (int i = 0; i < count; i++)
        {
            for (int r = 0; r < multiplicity[i]; r++)
            {
                repeated.AddRange(stack.AsSpan(i * size, size).ToArray());
                repeatedErrors.AddRange(errors.AsSpan(i * m, m).ToArray());
                repeatedInputs.AddRange(inputs.AsSpan(i * n, n).ToArray());
            }
        }

        int total = multiplicity.Sum();
        // Unnormalised weights on purpose: the sample divides by their sum.
        var weighted = new GradientSample<double>(stack, count, m, n, multiplicity.Select(k => (double)k).ToArray());
        var plain = new GradientSample<double>(repeated.ToArray(), total, m, n);
        double tol = Tolerance.ForPrecision<double>(total * size);

        Tolerance.AssertClose(KroneckerTestData.DenseH(plain), KroneckerTestData.DenseH(weighted), tol, tol, "dense H");
        Tolerance.AssertClose(KroneckerSimilarity.ComputeHNorm(plain), KroneckerSimilarity.ComputeHNorm(weighted), tol, 0, "‖H‖");
        Tolerance.AssertClose(KroneckerSimilarity.ComputeHNorm(plain), KroneckerSimilarity.ComputeHNorm(weighted, null, chunkColumns: 5),
            tol, 0, "‖H‖, column-chunked Gram");

        ShampooStatistics s1 = KroneckerApproximations.ComputeStatistics(plain);
        ShampooStatistics s2 = KroneckerApproximations.ComputeStatistics(weighted, null, chunkExamples: 3);
        Tolerance.AssertClose(s1.L, s2.L, tol, tol, "L");
        Tolerance.AssertClose(s1.R, s2.R, tol, tol, "R");
        Tolerance.AssertClose(s1.Trace, s2.Trace, tol, 0, "Tr(H)");

        OptimalKroneckerResult o1 = OptimalKroneckerApproximation.Compute(plain, Converge);
        OptimalKroneckerResult o2 = OptimalKroneckerApproximation.Compute(weighted, Converge, blas: null, chunkExamples: 3);
        Tolerance.AssertClose(o1.Unit.A, o2.Unit.A, 0, 1e-11, "optimal A");
        Tolerance.AssertClose(o1.Unit.B, o2.Unit.B, 0, 1e-11, "optimal B");
        Tolerance.AssertClose(o1.Scale, o2.Scale, tol, 0, "σ");

        var probe = new KroneckerPair(SeededRandom.SymmetricPositiveDefinite(20, m), m, SeededRandom.Gaussian(21, n * n), n);
        Tolerance.AssertClose(KroneckerSimilarity.InnerProduct(plain, probe), KroneckerSimilarity.InnerProduct(weighted, probe, null, chunkExamples: 2),
            tol, tol, "⟨H, A⊗B⟩ with a non-symmetric B");

        KroneckerPair k1 = KroneckerApproximations.KFac(new ReadOnlyMatrixView<double>(repeatedErrors.ToArray(), total, m), new ReadOnlyMatrixView<double>(repeatedInputs.ToArray(), total, n));
        KroneckerPair k2 = KroneckerApproximations.KFac(new ReadOnlyMatrixView<double>(errors, count, m), new ReadOnlyMatrixView<double>(inputs, count, n),
            multiplicity.Select(k => (double)k).ToArray());
        Tolerance.AssertClose(k1.A, k2.A, tol, tol, "K-FAC E[δδᵀ]");
        Tolerance.AssertClose(k1.B, k2.B, tol, tol, "K-FAC E[aaᵀ]");
    }
}
