using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Analysis.Models;
using ShampooMkl.Kronecker;
using ShampooMkl.Tests.Kronecker;
using ShampooMkl.Tests.Linalg;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Experiments;

/// <summary>The gradient samples of the experiment: per-example gradients from a model, the exact Gauss–Newton sample, and both batch estimators.</summary>
public sealed class HessianEstimatesTests
{
    private const int Features = 4;
    private const int Hidden = 5;
    private const int Classes = 3;
    private const int Examples = 10;

    /// <summary>A 4-5-3 ReLU MLP whose buffers hold 4 examples, so 10 examples take three chunks.</summary>
    private static (Mlp Model, float[] Images, byte[] Labels) TinyMlp()
    {
        var model = new Mlp([Hidden], Features, Classes, maxBatchSize: 4, seed: 3);
        var data = ExperimentTestData.Images(11, Examples, Features, Classes);
        return (model, data.Images, data.Labels);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void PerExampleTrueGradients_AreTheModelsOwnPerExampleGradients(int layer)
    {
        var (model, images, labels) = TinyMlp();
        var estimates = HessianEstimates.Collect(model, layer, images, labels, Examples, new Random(5));
        double[] ours = KroneckerTestData.Widen(estimates.PerExample(LabelMode.True).ToGradientSample());

        var dense = model.DenseLayers[layer];
        int size = dense.Outputs * dense.Inputs;
        var expected = new List<double>();
        for (int first = 0; first < Examples; first += model.MaxBatchSize)
        {
            int count = Math.Min(model.MaxBatchSize, Examples - first);
            model.ForwardBackward(images.AsSpan(first * Features, count * Features), labels.AsSpan(first, count), count);
            var chunk = new float[count * size];
            model.PerExampleGradients(layer, chunk);
            expected.AddRange(chunk.Select(x => (double)x));
        }

        // Both are fp32 products δᵢ·aᵢₖ of the same fp32 factors; ours is formed in fp64, so they differ by one fp32 rounding.
        Tolerance.AssertClose(expected.ToArray(), ours, 2 * Tolerance.MachineEpsilon<float>(), 1e-12, "Gᵢ = δᵢaᵢᵀ");
    }

    [Fact]
    public void SampledLabelGradients_AreTheClassGradientsOfTheSampledLabels()
    {
        var (model, images, labels) = TinyMlp();
        var estimates = HessianEstimates.Collect(model, 0, images, labels, Examples, new Random(5));
        var again = HessianEstimates.Collect(model, 0, images, labels, Examples, new Random(5));
        Assert.Equal(estimates.SampledLabels.ToArray(), again.SampledLabels.ToArray());

        ReadOnlySpan<float> sampled = estimates.Deltas(LabelMode.Sampled);
        ReadOnlySpan<float> perClass = estimates.Deltas(LabelMode.Exact);
        ReadOnlySpan<float> truth = estimates.Deltas(LabelMode.True);
        for (int i = 0; i < Examples; i++)
        {
            int y = estimates.SampledLabels[i];
            Assert.True(perClass.Slice(((i * Classes) + y) * Hidden, Hidden).SequenceEqual(sampled.Slice(i * Hidden, Hidden)), $"example {i}, ŷ = {y}");
            int t = estimates.Labels[i];
            Assert.True(perClass.Slice(((i * Classes) + t) * Hidden, Hidden).SequenceEqual(truth.Slice(i * Hidden, Hidden)), $"example {i}, y = {t}");
        }
    }

    /// <summary>
    /// The exact class-weighted sample against the Gauss–Newton matrix written out from the network's Jacobian.
    /// For z = W₂ relu(W₁x + b₁) + b₂ with row-major vec(W₁), ∂z/∂vec(W₁) = (W₂Dᵢ) ⊗ xᵢᵀ (Dᵢ = diag(relu′(W₁xᵢ + b₁))) and
    /// ∂z/∂vec(W₂) = I ⊗ hᵢᵀ, so with Λᵢ = diag(pᵢ) − pᵢpᵢᵀ (the Hessian of softmax cross-entropy in the logits)
    /// H_GN(W₁) = (1/N) Σ (DᵢW₂ᵀΛᵢW₂Dᵢ) ⊗ xᵢxᵢᵀ and H_GN(W₂) = (1/N) Σ Λᵢ ⊗ hᵢhᵢᵀ.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ExactClassWeightedSample_EqualsTheGaussNewtonMatrixFromTheJacobian(int layer)
    {
        var (model, images, labels) = TinyMlp();
        var estimates = HessianEstimates.Collect(model, layer, images, labels, Examples, new Random(5));
        double[] actual = KroneckerTestData.DenseH(estimates.PerExample(LabelMode.Exact).ToGradientSample());

        double[] w1 = model.DenseLayers[0].Weight.Value.Select(x => (double)x).ToArray();
        double[] b1 = model.DenseLayers[0].Bias.Value.Select(x => (double)x).ToArray();
        double[] w2 = model.DenseLayers[1].Weight.Value.Select(x => (double)x).ToArray();
        double[] b2 = model.DenseLayers[1].Bias.Value.Select(x => (double)x).ToArray();
        int m = layer == 0 ? Hidden : Classes;
        int n = layer == 0 ? Features : Hidden;
        var expected = new double[m * n * m * n];
        for (int i = 0; i < Examples; i++)
        {
            double[] x = images.AsSpan(i * Features, Features).ToArray().Select(v => (double)v).ToArray();
            double[] y = DenseMatrix.Add(DenseMatrix.MultiplyVector(w1, Hidden, Features, x), b1);
            double[] h = y.Select(v => Math.Max(v, 0)).ToArray();
            double[] z = DenseMatrix.Add(DenseMatrix.MultiplyVector(w2, Classes, Hidden, h), b2);
            double max = z.Max();
            double[] p = z.Select(v => Math.Exp(v - max)).ToArray();
            p = DenseMatrix.Scale(p, 1 / p.Sum());
            var lambda = new double[Classes * Classes];
            for (int a = 0; a < Classes; a++)
            {
                for (int b = 0; b < Classes; b++)
                {
                    lambda[(a * Classes) + b] = (a == b ? p[a] : 0) - (p[a] * p[b]);
                }
            }

            double[] term;
            if (layer == 0)
            {
                // M = W₂Dᵢ (C×m): column r of W₂ kept where the unit is active.
                var jac = new double[Classes * Hidden];
                for (int c = 0; c < Classes; c++)
                {
                    for (int r = 0; r < Hidden; r++)
                    {
                        jac[(c * Hidden) + r] = y[r] > 0 ? w2[(c * Hidden) + r] : 0;
                    }
                }

                double[] left = DenseMatrix.Multiply(DenseMatrix.Multiply(DenseMatrix.Transpose(jac, Classes, Hidden), Hidden, Classes, lambda, Classes, Classes), Hidden, Classes, jac, Classes, Hidden);
                term = DenseMatrix.Kronecker(left, Hidden, DenseMatrix.OuterProduct(x, x), Features);
            }
            else
            {
                term = DenseMatrix.Kronecker(lambda, Classes, DenseMatrix.OuterProduct(h, h), Hidden);
            }

            expected = DenseMatrix.Add(expected, DenseMatrix.Scale(term, 1.0 / Examples));
        }

        // The model runs in fp32: its probabilities, δ's and activations carry ~1e-7 relative rounding each.
        Assert.True(KroneckerTestData.RelativeDistance(expected, actual) < 1e-5, $"‖H_GN − H_exact‖/‖H_GN‖ = {KroneckerTestData.RelativeDistance(expected, actual):E2}");
    }

    [Fact]
    public void BatchEstimator_MatchesAHandComputationOnTwoBatches()
    {
        // δ₁…δ₄ and a₁…a₄ (m = 2, n = 3), batches {1, 2} and {3, 4}:
        // S₁ = δ₁a₁ᵀ + δ₂a₂ᵀ = [[1,0,2],[2,1,5]], S₂ = δ₃a₃ᵀ + δ₄a₄ᵀ = [[3,−1,−2],[1,1,0]];
        // L_B = (S₁S₁ᵀ + S₂S₂ᵀ)/N = ([[5,12],[12,30]] + [[14,2],[2,2]])/4, R_B = (S₁ᵀS₁ + S₂ᵀS₂)/4.
        var estimates = FromFactors([1, 2, 0, 1, -1, 1, 2, 0], [1, 0, 2, 0, 1, 1, 1, 1, 0, 2, 0, -1], 4, 2, 3);
        FactoredGradientSample batched = estimates.Batched(LabelMode.True, 2);
        Assert.Equal(2, batched.DenseCount);
        ShampooStatistics stats = FactoredKronecker.Statistics(batched);
        Tolerance.AssertClose([4.75, 3.5, 3.5, 8], stats.L, 1e-15, 1e-15, "L_B");
        Tolerance.AssertClose([3.75, 0, 1.5, 0, 0.75, 1.75, 1.5, 1.75, 8.25], stats.R, 1e-15, 1e-15, "R_B");
        Tolerance.AssertClose(12.75, stats.Trace, 1e-15, 0, "Tr(H_B)");

        double[] s1 = [1, 0, 2, 2, 1, 5];
        double[] s2 = [3, -1, -2, 1, 1, 0];
        double[] h = DenseMatrix.Scale(DenseMatrix.Add(DenseMatrix.OuterProduct(s1, s1), DenseMatrix.OuterProduct(s2, s2)), 0.25);
        Tolerance.AssertClose(h, KroneckerTestData.DenseH(batched.ToGradientSample()), 1e-15, 1e-15, "H_B = (1/N) Σ vec(Sₖ)vec(Sₖ)ᵀ");

        // A short last batch: N = 3, B = 2 gives S₁ and S₂ = δ₃a₃ᵀ, each still divided by N.
        var three = FromFactors([1, 2, 0, 1, -1, 1], [1, 0, 2, 0, 1, 1, 1, 1, 0], 3, 2, 3);
        Tolerance.AssertClose([7 / 3.0, 10 / 3.0, 10 / 3.0, 32 / 3.0], FactoredKronecker.Statistics(three.Batched(LabelMode.True, 2)).L, 1e-15, 1e-15, "L_B, short last batch");

        // B = 1 is the per-example estimator itself.
        Tolerance.AssertClose(
            FactoredKronecker.Statistics(estimates.PerExample(LabelMode.True)).L,
            FactoredKronecker.Statistics(estimates.Batched(LabelMode.True, 1)).L, 1e-15, 1e-15, "B = 1");
        Assert.Throws<ArgumentException>(() => estimates.Batched(LabelMode.Exact, 2));
    }

    [Fact]
    public void ExpectedBatchEstimator_IsTheMeanOverAllBatchings()
    {
        // N = 4 into batches of 2 has exactly three batchings; their mean H_B is E[H_B] = (1 − c)H + cN·ḡḡᵀ with c = 1/3,
        // and the expected-batch sample holds that up to the weight sum 1 − c + cN = 2.
        double[] deltas = SeededRandom.Gaussian(80, 4 * 2);
        double[] inputs = SeededRandom.Gaussian(81, 4 * 3);
        int[][] batchings = [[0, 1, 2, 3], [0, 2, 1, 3], [0, 3, 1, 2]];
        var mean = new double[36];
        foreach (int[] order in batchings)
        {
            var permuted = FromFactors(
                order.SelectMany(i => deltas.Skip(i * 2).Take(2)).ToArray(), order.SelectMany(i => inputs.Skip(i * 3).Take(3)).ToArray(), 4, 2, 3);
            mean = DenseMatrix.Add(mean, DenseMatrix.Scale(KroneckerTestData.DenseH(permuted.Batched(LabelMode.True, 2).ToGradientSample()), 1.0 / 3));
        }

        var estimates = FromFactors(deltas, inputs, 4, 2, 3);
        double[] expected = DenseMatrix.Scale(KroneckerTestData.DenseH(estimates.ExpectedBatched(LabelMode.True, 2).ToGradientSample()), 2);
        // The inputs are fp32-rounded in both paths identically, so only fp64 summation order differs.
        Tolerance.AssertClose(mean, expected, 1e-12, 1e-12, "mean over batchings = E[H_B]");
    }

    /// <summary>Estimates whose true-label factors are given; the other label modes are filled with the same values.</summary>
    private static HessianEstimates FromFactors(double[] deltas, double[] inputs, int count, int m, int n)
    {
        float[] d = deltas.Select(x => (float)x).ToArray();
        float[] a = inputs.Select(x => (float)x).ToArray();
        float[] perClass = Enumerable.Range(0, count * 2).SelectMany(k => d.Skip(k / 2 * m).Take(m)).ToArray();
        return new HessianEstimates(a, d, (float[])d.Clone(), perClass, Enumerable.Repeat(0.5f, count * 2).ToArray(),
            new byte[count], new byte[count], count, m, n, classes: 2);
    }
}
