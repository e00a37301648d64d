using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>A large matrix cut into blocks is preconditioned exactly as if each block were its own parameter.</summary>
public class BlockingTests
{
    [Fact]
    public void LargeMatrix_EqualsIndependentBlocks_WithPerBlockGrafting()
    {
        const int rows = 600;
        const int cols = 280;
        const int steps = 2;
        (int Row, int Col, int Rows, int Cols)[] expectedBlocks =
        [
            (0, 0, 256, 256), (0, 256, 256, 24),
            (256, 0, 256, 256), (256, 256, 256, 24),
            (512, 0, 88, 256), (512, 256, 88, 24),
        ];
        var options = ShampooOptions.Shampoo with
        {
            FactorPrecision = FactorPrecision.Double,
            MaxPreconditionerDim = 256,
            // Step 1 is Adagrad alone on the whole matrix; step 2 refreshes every block once (one syevd of ≤ 256 per
            // factor keeps this test under a second) and preconditions statistics of two gradients.
            PreconditionFrequency = 2,
            Beta1 = 0,
            LearningRate = 1,
            Grafting = GraftingType.Adagrad,
        };
        var parameter = new Parameter("big", SeededRandom.GaussianSingle(5, rows * cols), rows, cols);
        using var optimizer = new Shampoo([parameter], options);
        var layout = ((BlockedShampooPreconditioner<double>)optimizer.PreconditionerOf(parameter)).Layout;
        Assert.Equal(expectedBlocks, layout.Select(b => (b.Row, b.Col, b.Rows, b.Cols)));

        var independent = expectedBlocks.Select(b => new ShampooPreconditioner<double>(b.Rows, b.Cols, options.ToPreconditionerOptions())).ToArray();
        var adagrad = new double[rows * cols];
        try
        {
            for (var step = 1; step <= steps; step++)
            {
                var before = (float[])parameter.Value.Clone();
                var gradient = OptimTestData.Gradient(rows * cols, 0, step);
                gradient.CopyTo(parameter.Gradient, 0);
                for (var i = 0; i < adagrad.Length; i++)
                {
                    adagrad[i] += (double)gradient[i] * gradient[i];
                }

                var expected = (float[])before.Clone();
                for (var k = 0; k < expectedBlocks.Length; k++)
                {
                    var (r0, c0, m, n) = expectedBlocks[k];
                    var slice = new double[m * n];
                    var graft = new double[m * n];
                    for (var i = 0; i < m; i++)
                    {
                        for (var j = 0; j < n; j++)
                        {
                            var at = ((r0 + i) * cols) + c0 + j;
                            slice[(i * n) + j] = gradient[at];
                            graft[(i * n) + j] = gradient[at] / (Math.Sqrt(adagrad[at]) + 1e-10);
                        }
                    }

                    independent[k].Update(slice);
                    var direction = graft;
                    if (step == 2)
                    {
                        Assert.True(independent[k].RefreshRoots().Succeeded);
                        direction = new double[m * n];
                        independent[k].Precondition(slice, direction);
                        direction = DenseMatrix.Scale(direction, DenseMatrix.FrobeniusNorm(graft) / DenseMatrix.FrobeniusNorm(direction));
                    }

                    for (var i = 0; i < m; i++)
                    {
                        for (var j = 0; j < n; j++)
                        {
                            var at = ((r0 + i) * cols) + c0 + j;
                            expected[at] = (float)(before[at] - direction[(i * n) + j]);
                        }
                    }
                }

                var result = optimizer.Step();

                Assert.True(result.Applied, result.Message);
                Assert.Equal(step == 2, result.RefreshedRoots);
                OptimTestData.AssertUpdateClose(before, expected, parameter.Value, 1e-9, 2, $"600×280 in 256-blocks, step {step}");
            }

            Assert.Equal(1, optimizer.Statistics.RootRefreshes);
            Assert.Equal(expectedBlocks.Length, optimizer.Statistics.RefreshedBlocks);
        }
        finally
        {
            foreach (var p in independent)
            {
                p.Dispose();
            }
        }
    }
}
