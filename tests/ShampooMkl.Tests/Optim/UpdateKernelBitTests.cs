using System.Numerics;
using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>The vectorised momentum, weight-decay and update kernels give every element the bits of the scalar formula,
/// wherever it falls (vector body or tail), so parameters do not depend on the machine's vector width.</summary>
public class UpdateKernelBitTests
{
    private const int Length = 67; // 64 elements in vectors of 2, 4, 8 or 16 lanes, plus a tail of 3
    private const int Steps = 3;

    [Theory]
    [InlineData(FactorPrecision.Double)]
    [InlineData(FactorPrecision.Single)]
    public void NesterovMomentumAndWeightDecay_MatchScalarFormulaBitForBit(FactorPrecision precision)
    {
        // Before the start step with no grafting the direction is the gradient itself, so only the update kernels act.
        var options = new ShampooOptions
        {
            LearningRate = 0.0123,
            Beta1 = 0.9,
            Nesterov = true,
            WeightDecay = 0.1,
            Grafting = GraftingType.None,
            StartPreconditioningStep = 1_000_000,
            FactorPrecision = precision,
        };
        var initial = SeededRandom.GaussianSingle(5, Length);
        var parameter = new Parameter("bias", (float[])initial.Clone(), Length);
        var gradients = Enumerable.Range(1, Steps)
            .Select(step => SeededRandom.Gaussian(90 + step, Length).Select((x, i) => (float)(x * Math.Pow(10, (i % 7) - 3))).ToArray())
            .ToArray();
        var (expected, expectedMomentum) = precision == FactorPrecision.Double
            ? Reference<double>(options, initial, gradients)
            : Reference<float>(options, initial, gradients);

        using var optimizer = new Shampoo([parameter], options);
        for (var step = 0; step < Steps; step++)
        {
            gradients[step].CopyTo(parameter.Gradient, 0);
            Assert.True(optimizer.Step().Applied);
            for (var i = 0; i < Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[step][i]) == BitConverter.SingleToInt32Bits(parameter.Value[i]),
                    $"{precision}, step {step + 1}, element {i}: expected {expected[step][i]:R}, got {parameter.Value[i]:R}");
            }

            // fp64 momentum rounds to fp32 only in w, which hides most fp64 differences: compare m itself (exported exactly).
            var momentum = optimizer.ExportState().Single(t => t.Name == "bias/momentum").Data;
            for (var i = 0; i < Length; i++)
            {
                Assert.True(BitConverter.DoubleToInt64Bits(expectedMomentum[step][i]) == BitConverter.DoubleToInt64Bits(momentum[i]),
                    $"{precision}, step {step + 1}, momentum {i}: expected {expectedMomentum[step][i]:R}, got {momentum[i]:R}");
            }
        }
    }

    /// <summary>ShampooParameterState's formula element by element in <typeparamref name="T"/>: the coefficients rounded to T
    /// once per step (η·schedule(t) with a constant schedule is η, c₁ = 1 − β₁ᵗ); d' = s·d with s = 1 and d = (T)g;
    /// m ← β₁·m + (1−β₁)·d'; u = (β₁/c₁)·m + (1−β₁)·d'; w ← (float)((T)w·(1 − ηλ) − η·u). Returns w and m (as fp64)
    /// after each step.</summary>
    private static (float[][] Values, double[][] Momenta) Reference<T>(ShampooOptions o, float[] initial, float[][] gradients) where T : IFloatingPointIeee754<T>
    {
        var w = (float[])initial.Clone();
        var m = new T[w.Length];
        Array.Fill(m, T.Zero);
        var result = new float[gradients.Length][];
        var momenta = new double[gradients.Length][];
        for (var t = 1; t <= gradients.Length; t++)
        {
            var lr = o.LearningRate;
            var c1 = 1.0 - Math.Pow(o.Beta1, t);
            var decay = T.CreateTruncating(1.0 - (lr * o.WeightDecay));
            var eta = T.CreateTruncating(lr);
            var keep = T.CreateTruncating(o.Beta1);
            var add = T.CreateTruncating(1.0 - o.Beta1);
            var fromMomentum = T.CreateTruncating(o.Beta1 / c1);
            var scale = T.One;
            for (var i = 0; i < w.Length; i++)
            {
                var d = T.CreateTruncating(gradients[t - 1][i]) * scale;
                m[i] = (keep * m[i]) + (add * d);
                var u = (fromMomentum * m[i]) + (add * d);
                w[i] = float.CreateTruncating((T.CreateTruncating(w[i]) * decay) - (eta * u));
            }

            result[t - 1] = (float[])w.Clone();
            momenta[t - 1] = m.Select(double.CreateTruncating).ToArray();
        }

        return (result, momenta);
    }
}
