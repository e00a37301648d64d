using ShampooMkl.Linalg;
using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>The eigenbasis warm start (one subspace step from the previous eigenvectors) tracks the full eigendecomposition.</summary>
public class WarmStartTests
{
    private static readonly ShampooOptions Base = ShampooOptions.Shampoo with
    {
        FactorPrecision = FactorPrecision.Double,
        PreconditionFrequency = 1,
        Grafting = GraftingType.None,
        Beta1 = 0,
        LearningRate = 0.01,
        Epsilon = 1e-6,
    };

    [Fact]
    public void WarmStart_StaysCloseToFullEigendecomposition_OverSeveralRefreshes()
    {
        // Roots start at step 30, when one more gradient changes the statistics by a few percent: the regime a warm
        // start is for. The first refresh is a full syevd, the next six are warm starts from the previous basis.
        const int start = 30;
        const int steps = 36;
        int[][] shapes = [[12, 8]];
        var fullParameters = OptimTestData.Parameters(shapes);
        var warmParameters = OptimTestData.Parameters(shapes);
        var initial = (float[])fullParameters[0].Value.Clone();
        var options = Base with { StartPreconditioningStep = start };
        using var full = new Shampoo(fullParameters, options);
        using var warm = new Shampoo(warmParameters, options with { RootMethod = InverseRootMethod.EigenbasisWarmStart, FullEigendecompositionEvery = 100 });

        var worstWarm = 0.0;
        var worstStale = 0.0;
        double[]? previous = null;
        for (var step = 1; step <= steps; step++)
        {
            OptimTestData.SetGradients(fullParameters, step);
            OptimTestData.SetGradients(warmParameters, step);
            Assert.True(full.Step().Applied);
            Assert.True(warm.Step().Applied);
            if (step < start)
            {
                continue;
            }

            var a = Block(full, fullParameters[0]);
            var b = Block(warm, warmParameters[0]);
            worstWarm = Math.Max(worstWarm, Math.Max(RelativeDifference(a.LeftRoot, b.LeftRoot), RelativeDifference(a.RightRoot, b.RightRoot)));
            if (previous is not null)
            {
                worstStale = Math.Max(worstStale, RelativeDifference(a.LeftRoot, previous));
            }

            previous = a.LeftRoot.ToArray();
        }

        Assert.Equal(steps - start + 1, Block(warm, warmParameters[0]).Refreshes);
        // Measured: warm 4.9e-3, stale 1.15e-2 (30 warm refreshes in a row reach 6.5e-3: the drift that
        // FullEigendecompositionEvery bounds). One subspace step is an approximation, so the claim is the useful one:
        // clearly better than not refreshing at all.
        Assert.True(worstWarm < 0.6 * worstStale,
            $"warm-started roots are {worstWarm:E2} off (relative Frobenius); keeping the previous roots would be {worstStale:E2} off");
        var moved = Distance(initial, fullParameters[0].Value);
        var apart = Distance(fullParameters[0].Value, warmParameters[0].Value);
        Assert.True(apart < 1e-3 * moved, $"trajectories {apart:E2} apart after moving {moved:E2}");
    }

    [Fact]
    public void WarmStart_WithFullDecompositionEveryRefresh_IsTheFullMethod()
    {
        int[][] shapes = [[7, 5]];
        var fullParameters = OptimTestData.Parameters(shapes);
        var warmParameters = OptimTestData.Parameters(shapes);
        using var full = new Shampoo(fullParameters, Base);
        using var warm = new Shampoo(warmParameters, Base with { RootMethod = InverseRootMethod.EigenbasisWarmStart, FullEigendecompositionEvery = 1 });
        for (var step = 1; step <= 4; step++)
        {
            OptimTestData.SetGradients(fullParameters, step);
            OptimTestData.SetGradients(warmParameters, step);
            full.Step();
            warm.Step();
        }

        OptimTestData.AssertSameValues([fullParameters[0].Value], warmParameters, "K = 1");
    }

    private static ShampooPreconditioner<double> Block(Shampoo optimizer, Parameter parameter) =>
        ((BlockedShampooPreconditioner<double>)optimizer.PreconditionerOf(parameter)).Blocks[0];

    private static double RelativeDifference(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        var diff = new double[expected.Length];
        for (var i = 0; i < diff.Length; i++)
        {
            diff[i] = expected[i] - actual[i];
        }

        return DenseMatrix.FrobeniusNorm(diff) / DenseMatrix.FrobeniusNorm(expected);
    }

    private static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => ((double)x - y) * ((double)x - y)).Sum());
}
