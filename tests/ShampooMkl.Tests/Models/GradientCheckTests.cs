using ShampooMkl.Analysis.Models;
using Xunit.Abstractions;

namespace ShampooMkl.Tests.Models;

/// <summary>Backward passes against central finite differences of the forward loss.</summary>
/// <remarks>
/// <para>The models compute in fp32, so every loss carries rounding of about one ulp(L) (≈1.2e-7 for L ≈ 1.4, the
/// size measured here). A central difference with step h turns that into an absolute slope error of roughly
/// ulp(L)/(2h); <see cref="NoiseFloor"/> allows eight times that. The quotient itself is formed in double from the
/// exactly representable perturbed weights, so it adds nothing. Truncation error, h²·f‴/6, is below 1e-6 at
/// h = 1e-2 for these O(1)-scaled losses. A 1e-2 relative tolerance leaves room for fp32 gemm rounding in both
/// passes (≈1e-6 relative) several hundred times over while still catching any wrong term of the chain rule.</para>
/// <para>ReLU and max-pool are only piecewise smooth, and a coordinate whose ±h move crosses kinks gives a biased
/// quotient. Each coordinate therefore uses the largest step of a ladder at which halving the step changes the
/// quotient by less than a tenth of the relative tolerance plus the rounding floor, i.e. where it has converged as
/// far as fp32 can show; if no step qualifies, the coordinate is replaced (a bounded number of times, asserted).
/// A fooled convergence test can only make the check fail, never pass a wrong gradient.</para>
/// <para>The 28×28 <see cref="SmallCnn"/> is checked in its 14×14 configuration, which runs the same layer code:
/// at full size one first-layer weight moves ~1,700 pre-activations per batch of three, so the quotient is still
/// 3.5% off at h = 1e-2 (0.5202 vs 0.5026 from backward) and only settles at h ≈ 3e-4, where fp32 rounding of
/// the loss is already ~1e-3 of the slope (h = 1e-2 … 8e-5 gave 0.520 0.521 0.515 0.510 0.502 0.503 0.503 0.504).
/// Its convolutions are checked against direct loops in <see cref="Conv2dLayerTests"/> instead.</para>
/// </remarks>
public sealed class GradientCheckTests(ITestOutputHelper output)
{
    private const double RelativeTolerance = 1e-2;
    private const int CoordinatesPerParameter = 6;
    private const int MaxSkipsPerParameter = 3;
    private static readonly double[] Steps = [1e-2, 3e-3, 1e-3, 5e-4, 2.5e-4];

    [Theory]
    [MemberData(nameof(ModelTestData.GradientCheckKinds), MemberType = typeof(ModelTestData))]
    public void Backward_MatchesCentralDifferences(string kind)
    {
        const int batch = 3;
        var model = ModelTestData.Create(kind);
        var inputs = ModelTestData.Inputs(batch, model.InputFeatures, seed: 11);
        var labels = ModelTestData.Labels(batch, model.Classes, seed: 12);
        var loss = model.ForwardBackward(inputs, labels, batch);
        var analytic = ModelTestData.CopyGradients(model);

        var random = new Random(13);
        var worst = 0.0;
        var stepsUsed = new int[Steps.Length];
        for (var p = 0; p < model.Parameters.Count; p++)
        {
            var parameter = model.Parameters[p];
            var gradient = analytic[p];
            var checkedCount = 0;
            var skips = 0;

            // The largest slope is always included so every parameter is checked where the signal is strongest.
            var first = System.Numerics.Tensors.TensorPrimitives.IndexOfMaxMagnitude(gradient);
            while (checkedCount < Math.Min(CoordinatesPerParameter, parameter.Length))
            {
                var index = checkedCount == 0 && skips == 0 ? first : random.Next(parameter.Length);
                if (!TryConvergedSlope(model, parameter.Value, index, loss, inputs, labels, batch, out var slope, out var step))
                {
                    skips++;
                    Assert.True(skips <= MaxSkipsPerParameter, $"{kind} {parameter.Name}: finite differences did not converge at {skips} coordinates.");
                    continue;
                }

                stepsUsed[step]++;
                var error = Math.Abs(slope - gradient[index]);
                var allowed = Tolerance(slope, gradient[index], Steps[step] / 2, loss);
                worst = Math.Max(worst, error / allowed);
                Assert.True(error <= allowed, $"{kind} {parameter.Name}[{index}]: backward {gradient[index]:G6}, finite difference {slope:G6} (h = {Steps[step] / 2:G2}).");
                checkedCount++;
            }
        }

        output.WriteLine($"{kind}: worst error / allowed = {worst:F3}; coordinates per step {string.Join(", ", Steps.Select((h, i) => $"{h:G2}: {stepsUsed[i]}"))}");
    }

    private static bool TryConvergedSlope(
        IModel model, float[] values, int index, float loss, float[] inputs, byte[] labels, int batch, out double slope, out int step)
    {
        for (step = 0; step < Steps.Length; step++)
        {
            var coarse = Slope(model, values, index, Steps[step], inputs, labels, batch);
            slope = Slope(model, values, index, Steps[step] / 2, inputs, labels, batch);
            var relative = RelativeTolerance / 10 * Math.Max(Math.Abs(coarse), Math.Abs(slope));
            if (Math.Abs(coarse - slope) <= relative + NoiseFloor(Steps[step] / 2, loss))
            {
                return true;
            }
        }

        slope = double.NaN;
        return false;
    }

    private static double Tolerance(double a, double b, double step, float loss) =>
        (RelativeTolerance * Math.Max(Math.Abs(a), Math.Abs(b))) + NoiseFloor(step, loss);

    /// <summary>Eight ulps of the loss, divided by the 2h of the central difference.</summary>
    private static double NoiseFloor(double step, float loss) => 8 * (double)(MathF.BitIncrement(loss) - loss) / (2 * step);

    /// <summary>(L(w + h) − L(w − h)) / (w₊ − w₋) in double, restoring the weight afterwards.</summary>
    private static double Slope(IModel model, float[] values, int index, double step, float[] inputs, byte[] labels, int batch)
    {
        var original = values[index];
        var plus = (float)(original + step);
        var minus = (float)(original - step);
        values[index] = plus;
        double lossPlus = model.Forward(inputs, labels, batch);
        values[index] = minus;
        double lossMinus = model.Forward(inputs, labels, batch);
        values[index] = original;
        return (lossPlus - lossMinus) / ((double)plus - minus);
    }
}
