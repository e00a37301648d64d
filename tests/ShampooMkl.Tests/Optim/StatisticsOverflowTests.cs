using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>fp32 Kronecker statistics fed gradients near 1e20 (whose outer products overflow fp32) are rescaled by a
/// power of two instead of becoming +∞: every refresh keeps working, the rescale is counted and logged, and because
/// grafting sets the step size, the trajectory matches the same run at a normal gradient scale.</summary>
public class StatisticsOverflowTests
{
    [Fact]
    public void HugeGradients_RescaleTheStatistics_AndTheBlockKeepsRefreshing()
    {
        var w = new Parameter("w", SeededRandom.GaussianSingle(1, 24), 6, 4);
        var options = ShampooOptions.Shampoo with
        {
            FactorPrecision = FactorPrecision.Single, PreconditionFrequency = 1, MaxPreconditionerDim = 4,
        };
        using var optimizer = new Shampoo([w], options);
        var blocked = (BlockedShampooPreconditioner<float>)optimizer.PreconditionerOf(w);
        for (var t = 1; t <= 8; t++)
        {
            // Three steps of gradients at 1e20, then ordinary ones: the block must recover, not fail for good.
            var scale = t <= 3 ? 1e20f : 1f;
            OptimTestData.Gradient(w.Length, 0, t).Select(x => x * scale).ToArray().CopyTo(w.Gradient, 0);
            var result = optimizer.Step();
            Assert.True(result.Applied, $"step {t}: {result.Message}");
            foreach (var block in blocked.Blocks)
            {
                Assert.True(block.Factors.Left.Data.ToArray().All(float.IsFinite), $"step {t}: L is not finite.");
                Assert.True(block.Factors.Right.Data.ToArray().All(float.IsFinite), $"step {t}: R is not finite.");
                Assert.True(block.HasRoots, $"step {t}: a block has no roots.");
            }

            Assert.True(w.Value.All(float.IsFinite), $"step {t}: W is not finite.");
        }

        Assert.Equal(0, optimizer.Statistics.FailedRootBlocks);
        Assert.True(optimizer.Statistics.RescaledBlocks >= 2, $"{optimizer.Statistics.RescaledBlocks} rescales");
        Assert.Contains(optimizer.Statistics.Log, e => e.Contains("statistics scale raised by 2^", StringComparison.Ordinal) && e.StartsWith("Step 1:", StringComparison.Ordinal));
    }

    [Fact]
    public void RescaledStatistics_GiveTheSameSteps_AsTheSameRunAtANormalScale()
    {
        // Adagrad grafting makes the update invariant to the gradients' scale, so a run whose gradients are 2^64 larger
        // (fp32 statistics overflow without rescaling) must follow the normal run up to ε's relative weight.
        var options = ShampooOptions.Shampoo with
        {
            FactorPrecision = FactorPrecision.Single, PreconditionFrequency = 2, MaxPreconditionerDim = 4, Beta1 = 0.9,
        };
        var normal = new Parameter("w", SeededRandom.GaussianSingle(2, 24), 6, 4);
        var huge = new Parameter("w", SeededRandom.GaussianSingle(2, 24), 6, 4);
        using var a = new Shampoo([normal], options);
        using var b = new Shampoo([huge], options);
        var factor = MathF.ScaleB(1f, 64);
        for (var t = 1; t <= 8; t++)
        {
            var g = OptimTestData.Gradient(24, 0, t);
            g.CopyTo(normal.Gradient, 0);
            g.Select(x => x * factor).ToArray().CopyTo(huge.Gradient, 0);
            Assert.True(a.Step().Applied);
            Assert.True(b.Step().Applied);
        }

        Assert.True(b.Statistics.RescaledBlocks > 0);
        Assert.Equal(0, a.Statistics.RescaledBlocks);
        Assert.Equal(0, b.Statistics.FailedRootBlocks);
        Tolerance.AssertClose(normal.Value, huge.Value, 1e-4, 1e-5, "scaled run");
    }

    [Fact]
    public void RescaledStatistics_ResumeFromAnExport_BitForBit()
    {
        var options = ShampooOptions.Shampoo with { FactorPrecision = FactorPrecision.Single, PreconditionFrequency = 2, MaxPreconditionerDim = 4 };
        var w = new Parameter("w", SeededRandom.GaussianSingle(4, 24), 6, 4);
        var copy = new Parameter("w", new float[24], 6, 4);
        using var a = new Shampoo([w], options);
        using var b = new Shampoo([copy], options);
        void Feed(Parameter p, int t) => OptimTestData.Gradient(24, 0, t).Select(x => x * 3e19f).ToArray().CopyTo(p.Gradient, 0);
        for (var t = 1; t <= 3; t++)
        {
            Feed(w, t);
            Assert.True(a.Step().Applied);
        }

        var state = a.ExportState();
        Assert.Contains(state, x => x.Name.EndsWith(".statisticsExponent", StringComparison.Ordinal) && x.Data[0] > 0);
        b.ImportState(state);
        for (var t = 4; t <= 6; t++)
        {
            Feed(w, t);
            Feed(copy, t);
            Assert.True(a.Step().Applied);
            Assert.True(b.Step().Applied);
        }

        OptimTestData.AssertSameState(a.ExportState(), b.ExportState(), "resumed");
    }
}
