using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>The optimizer with <see cref="InverseRootMethod.CoupledNewton"/> roots follows the syevd roots.</summary>
public class CoupledNewtonRootTests
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

    [Theory]
    [InlineData(4.0)]
    [InlineData(2.0)]
    public void CoupledNewtonRoots_MatchEigendecompositionRoots_WithinTheConvergenceBound(double root)
    {
        int[][] shapes = [[12, 8]];
        var eigParameters = OptimTestData.Parameters(shapes);
        var newtonParameters = OptimTestData.Parameters(shapes);
        var initial = (float[])eigParameters[0].Value.Clone();
        var options = Base with { Root = root };
        using var eig = new Shampoo(eigParameters, options);
        using var newton = new Shampoo(newtonParameters, options with { RootMethod = InverseRootMethod.CoupledNewton });

        // The iteration stops once r = max|M − I| ≤ tol, with M = X^p·(A + εI) and X a polynomial in A, so
        // X = (A + εI)^{-1/p}·M^{1/p} and the relative error of X is at most ‖M^{1/p} − I‖₂ ≈ ‖M − I‖₂/p ≤ n·tol/p
        // (‖E‖₂ ≤ n·max|E|). A factor 2 covers the first-order step and round-off of both methods.
        var tolerance = CoupledNewtonInverseRoot.DefaultTolerance;
        var worst = 0.0;
        const int steps = 12;
        for (var step = 1; step <= steps; step++)
        {
            OptimTestData.SetGradients(eigParameters, step);
            OptimTestData.SetGradients(newtonParameters, step);
            Assert.True(eig.Step().Applied);
            Assert.True(newton.Step().Applied);

            var a = Block(eig, eigParameters[0]);
            var b = Block(newton, newtonParameters[0]);
            if (!a.HasRoots)
            {
                continue;
            }

            Assert.True(b.HasRoots);
            var left = RelativeDifference(a.LeftRoot, b.LeftRoot);
            var right = RelativeDifference(a.RightRoot, b.RightRoot);
            Assert.True(left <= 2 * a.Rows * tolerance / root, $"step {step}: L-root {left:E2} off, bound {2 * a.Rows * tolerance / root:E2}");
            Assert.True(right <= 2 * a.Cols * tolerance / root, $"step {step}: R-root {right:E2} off, bound {2 * a.Cols * tolerance / root:E2}");
            worst = Math.Max(worst, Math.Max(left, right));
        }

        var newtonBlock = Block(newton, newtonParameters[0]);
        Assert.Equal(0, newtonBlock.FailedRefreshes);
        Assert.True(newtonBlock.Refreshes > 0);

        // Each direction is then within about 2·n·tol/p of the syevd one; the fp32 parameters see it as noise.
        var moved = Distance(initial, eigParameters[0].Value);
        var apart = Distance(eigParameters[0].Value, newtonParameters[0].Value);
        Assert.True(apart < 1e-3 * moved, $"trajectories {apart:E2} apart after moving {moved:E2} (worst root difference {worst:E2})");
    }

    [Fact]
    public void CoupledNewton_ThatDoesNotConverge_ReportsItAndLeavesTheOutput()
    {
        // diag(1, 0) with ε = 0: the zero eigenvalue of M never grows, so the residual stays 1.
        using var root = new InverseRoot(2);
        double[] a = [1, 0, 0, 0];
        double[] x = [7, 7, 7, 7];

        var status = root.Compute<double>(new ReadOnlyMatrixView<double>(a, 2, 2), 4, 0, new MatrixView<double>(x, 2, 2), InverseRootMethod.CoupledNewton);

        Assert.Equal(InverseRootStatus.NotConverged, status);
        Assert.Equal([7, 7, 7, 7], x);
    }

    [Fact]
    public void CoupledNewton_WithANonIntegerRoot_IsRejected()
    {
        var options = ShampooPreconditionerOptions.Shampoo with { Root = 2.5, RootMethod = InverseRootMethod.CoupledNewton };

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
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
