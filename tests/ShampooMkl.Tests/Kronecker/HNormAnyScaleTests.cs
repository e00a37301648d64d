using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Kronecker;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Kronecker;

/// <summary>‖H‖ and the analysis at any N and any scale: both ‖H‖ paths (blocked Gram, H itself) against a dense H, no
/// N×N buffer and no overflow past 46,340 gradients, and fp64 gradients near 1e±80 … 1e±170 or weights of 1e308 giving
/// the answers of their rescaled copies.</summary>
public sealed class HNormAnyScaleTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("shampoo-hnorm-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData(3, 4, 13, false, 1, 0)]     // thirteen 1-example blocks: every off-diagonal block through gemm
    [InlineData(3, 4, 13, true, 4, 5)]      // ragged last block, three column tiles
    [InlineData(2, 3, 9, true, 9, 0)]       // one block: the single syrk
    [InlineData(1, 2, 40, true, 7, 1)]
    public void BlockedGram_EqualsTheDenseNorm(int m, int n, int count, bool weighted, int block, int chunk)
    {
        var sample = Sample(m, n, count, weighted, scale: 1);
        var expected = DenseMatrix.FrobeniusNorm(KroneckerTestData.DenseH(sample));

        var actual = KroneckerSimilarity.ComputeHNorm(sample, null, chunk, block, HNormPath.BlockedGram);

        // N² squares of Gram entries, each a length-mn dot: c·(N·m·n)·ε covers both sums.
        Tolerance.AssertClose(expected, actual, Tolerance.ForPrecision<double>(count * m * n), 0, $"‖H‖, blocks of {block}");
    }

    [Theory]
    [InlineData(1, 3, 50, false)]
    [InlineData(2, 2, 30, true)]
    [InlineData(3, 4, 5, true)]   // m·n > N: forced, still right
    public void Covariance_EqualsTheDenseNorm(int m, int n, int count, bool weighted)
    {
        var sample = Sample(m, n, count, weighted, scale: 1);
        var expected = DenseMatrix.FrobeniusNorm(KroneckerTestData.DenseH(sample));

        var actual = KroneckerSimilarity.ComputeHNorm(sample, null, 0, 0, HNormPath.Covariance);

        Tolerance.AssertClose(expected, actual, Tolerance.ForPrecision<double>(count * m * n), 0, "‖H‖ from H itself");
    }

    [Fact]
    public void Plan_UsesHWhenMnIsBelowN_AndNeverAnNByNBuffer()
    {
        // 100,000 gradients of a 1×1 layer: H is 1×1 (the Gram matrix would be 80 GB).
        var tiny = HNormPlan.For(100_000, 1);
        Assert.Equal(HNormPath.Covariance, tiny.Path);
        Assert.True(tiny.WorkspaceBytes <= 64L << 20, $"{tiny.WorkspaceBytes} bytes");

        // 50,000 gradients of a 256×784 layer: Gram blocks, tens of MB (the whole Gram matrix would be 20 GB).
        var large = HNormPlan.For(50_000, 256 * 784);
        Assert.Equal(HNormPath.BlockedGram, large.Path);
        Assert.Equal(HNormPlan.DefaultBlockExamples, large.BlockExamples);
        Assert.True(large.WorkspaceBytes <= 80L << 20, $"{large.WorkspaceBytes} bytes");

        // m·n < N, but H would be 40,000² doubles: the bounded Gram blocks instead.
        var wide = HNormPlan.For(50_000, 40_000);
        Assert.Equal(HNormPath.BlockedGram, wide.Path);
        Assert.True(wide.WorkspaceBytes <= 80L << 20, $"{wide.WorkspaceBytes} bytes");

        // Few gradients: one block, the same single syrk as ever.
        Assert.Equal(new HNormPlan(HNormPath.BlockedGram, 10, 1000, sizeof(double) * ((10 * 1000) + (10 * 10))), HNormPlan.For(10, 1000));
    }

    [Fact]
    public void MoreThan46340Gradients_DoNotOverflow()
    {
        // 50,000 weighted gradients of a 1×2 layer; the reference is H (2×2) summed here directly.
        const int count = 50_000;
        var sample = Sample(1, 2, count, weighted: true, scale: 1);
        var h = new double[4];
        for (var i = 0; i < count; i++)
        {
            var g = sample.Data.Slice(2 * i, 2);
            h[0] += sample.Weights[i] * g[0] * g[0];
            h[1] += sample.Weights[i] * g[0] * g[1];
            h[3] += sample.Weights[i] * g[1] * g[1];
        }

        h[2] = h[1];
        Assert.Equal(HNormPath.Covariance, HNormPlan.For(count, 2).Path);
        Tolerance.AssertClose(DenseMatrix.FrobeniusNorm(h), KroneckerSimilarity.ComputeHNorm(sample), Tolerance.ForPrecision<double>(count), 0, "‖H‖ of 50,000 gradients");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void MoreThan46340Gradients_BlockedGram_DoesNotOverflow()
    {
        const int count = 46_400;
        var sample = Sample(1, 1, count, weighted: false, scale: 1);
        var covariance = KroneckerSimilarity.ComputeHNorm(sample, null, 0, 0, HNormPath.Covariance);

        var gram = KroneckerSimilarity.ComputeHNorm(sample, null, 0, 0, HNormPath.BlockedGram);

        Tolerance.AssertClose(covariance, gram, Tolerance.ForPrecision<double>(count), 0, "‖H‖ by Gram blocks and by H");
    }

    /// <summary>Scales whose ‖H‖ fp64 can hold, but whose fourth powers it cannot.</summary>
    public static TheoryData<double> RepresentableScales => new() { 1e-80, 1e-150, 1e77, 1e150, 2.5e-145 };

    [Theory]
    [MemberData(nameof(RepresentableScales))]
    public void HNorm_AtAnyScale_MatchesTheDenseNormOfTheRescaledCopy(double scale)
    {
        var sample = Sample(3, 4, 9, weighted: true, scale);
        // The reference: the same gradients times 2^−e (exact), a dense H, and the norm scaled back by 4^e.
        var e = Math.ILogB(sample.MaxMagnitude);
        var rescaled = sample.Data.ToArray().Select(x => Math.ScaleB(x, -e)).ToArray();
        var expected = Math.ScaleB(DenseMatrix.FrobeniusNorm(KroneckerTestData.DenseH(rescaled, 9, 3, 4, sample.Weights)), 2 * e);
        Assert.True(double.IsNormal(expected));

        foreach (var path in new[] { HNormPath.BlockedGram, HNormPath.Covariance })
        {
            var actual = KroneckerSimilarity.ComputeHNorm(sample, null, 0, 0, path);
            // The power-of-two scaling is exact, so only the ordinary fp64 round-off of the sums remains.
            Tolerance.AssertClose(expected, actual, Tolerance.ForPrecision<double>(9 * 12), 0, $"‖H‖ at scale {scale:G3}, {path}");
        }
    }

    /// <summary>Scales of fp64 gradients, including those whose ‖H‖ is outside fp64's range.</summary>
    public static TheoryData<double, bool> AnalysisScales()
    {
        var data = new TheoryData<double, bool>();
        foreach (var scale in new[] { 1e-80, 1e77, 1e170, 1e-170 })
        {
            data.Add(scale, false);
            data.Add(scale, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AnalysisScales))]
    public void Analysis_AtAnyScale_GivesTheCosinesOfTheRescaledCopy(double scale, bool throughFile)
    {
        const int m = 3, n = 4, count = 20;
        var sample = Sample(m, n, count, weighted: true, scale);
        var e = Math.ILogB(sample.MaxMagnitude);
        var rescaledData = sample.Data.ToArray().Select(x => Math.ScaleB(x, -e)).ToArray();
        var rescaled = new GradientSample<double>(rescaledData, count, m, n, sample.Weights);
        var unit = GradientFileAnalysis.Analyze(rescaled);

        GradientFileMetrics metrics;
        if (throughFile)
        {
            var gradients = Path.Combine(folder, "g.npy");
            var weights = Path.Combine(folder, "w.npy");
            NpyWriter.Write(gradients, sample.Data, [count, m, n]);
            NpyWriter.Write(weights, sample.Weights, [count]);
            metrics = GradientFileAnalysis.Analyze(gradients, weights);
        }
        else
        {
            metrics = GradientFileAnalysis.Analyze(sample);
        }

        // Dense reference on the rescaled copy: cos(H, L⊗R) for Shampoo² (scale-free, so the copy's is the file's).
        var h = KroneckerTestData.DenseH(rescaled);
        var statistics = KroneckerApproximations.ComputeStatistics(rescaled);
        var squared = DenseMatrix.CosineSimilarity(h, KroneckerTestData.Dense(KroneckerApproximations.ShampooSquared(statistics)));
        Tolerance.AssertClose(squared, metrics.ShampooSquared, 1e-12, 0, "cos(H, Shampoo²)");
        // Exactly the same arithmetic as on the rescaled copy (powers of two commute with every rounding).
        Assert.Equal(unit.Optimal, metrics.Optimal);
        Assert.Equal(unit.Shampoo, metrics.Shampoo);
        Assert.Equal(unit.ShampooSquared, metrics.ShampooSquared);

        // ‖H‖ and Tr(H) at the file's scale when fp64 holds them, else those of the copy with the exponent reported.
        var trueNorm = Math.ScaleB(unit.HNorm, 2 * e);
        if (double.IsNormal(trueNorm))
        {
            Assert.Equal(0, metrics.ScaleExponent);
            Assert.Equal(trueNorm, metrics.HNorm);
            Assert.Equal(Math.ScaleB(unit.Trace, 2 * e), metrics.Trace);
        }
        else
        {
            Assert.Equal(e, metrics.ScaleExponent);
            Assert.Equal(unit.HNorm, metrics.HNorm);
            Assert.Equal(unit.Trace, metrics.Trace);
        }

        Assert.Equal(metrics.Optimal, GradientFileMetrics.FromJson(metrics.ToJson()).Optimal);
    }

    [Fact]
    public void WeightsOf1e308_DoNotOverflowTheirSum()
    {
        var normalized = SampleWeights.Normalize([1e308, 1e308, 1e308, 1e308, 1e308, 1e308], 6);
        Assert.All(normalized, w => Assert.Equal(1.0 / 6, w, 15));

        var data = Sample(2, 3, 6, weighted: false, scale: 1).Data.ToArray();
        var uniform = GradientFileAnalysis.Analyze(new GradientSample<double>(data, 6, 2, 3));
        var huge = GradientFileAnalysis.Analyze(new GradientSample<double>(data, 6, 2, 3, [1e308, 1e308, 1e308, 1e308, 1e308, 1e308]));

        Tolerance.AssertClose(uniform.HNorm, huge.HNorm, 1e-15, 0, "‖H‖ with weights of 1e308");
        Tolerance.AssertClose(uniform.Optimal, huge.Optimal, 1e-12, 0, "optimal cosine with weights of 1e308");
    }

    private static GradientSample<double> Sample(int m, int n, int count, bool weighted, double scale)
    {
        var data = SeededRandom.Gaussian(700 + (m * 31) + count, count * m * n).Select(x => x * scale).ToArray();
        var weights = weighted ? SeededRandom.Uniform(800 + count, count, 0.1, 1.0) : [];
        return new GradientSample<double>(data, count, m, n, weights);
    }
}
