using System.Numerics;
using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>The fp64-parameter update kernels give every element the bits of the scalar formula wherever it falls
/// (vector body or tail), with or without momentum, for fp32 and fp64 state.</summary>
public class Fp64UpdateKernelBitTests
{
    private const int Length = 67; // 64 elements in vectors of 2, 4, 8 or 16 lanes, plus a tail of 3
    private const int Steps = 3;

    public static TheoryData<FactorPrecision, double> Cases => new()
    {
        { FactorPrecision.Double, 0.9 }, { FactorPrecision.Single, 0.9 }, { FactorPrecision.Double, 0 }, { FactorPrecision.Single, 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fp64Parameters_MatchScalarFormulaBitForBit(FactorPrecision precision, double beta1)
    {
        // Before the start step with no grafting the direction is the gradient itself, so only the update kernels act.
        var options = new ShampooOptions
        {
            LearningRate = 0.0123,
            Beta1 = beta1,
            Nesterov = beta1 > 0,
            WeightDecay = 0.1,
            Grafting = GraftingType.None,
            StartPreconditioningStep = 1_000_000,
            FactorPrecision = precision,
        };
        var initial = SeededRandom.Gaussian(5, Length).Select((x, i) => x * (1 + (1e-9 * i))).ToArray();
        var parameter = new Parameter("bias", (double[])initial.Clone(), Length);
        var gradients = Enumerable.Range(1, Steps)
            .Select(step => SeededRandom.Gaussian(90 + step, Length).Select((x, i) => x * Math.Pow(10, (i % 7) - 3)).ToArray())
            .ToArray();
        var expected = precision == FactorPrecision.Double ? Reference<double>(options, initial, gradients) : Reference<float>(options, initial, gradients);

        using var optimizer = new Shampoo([parameter], options);
        for (var step = 0; step < Steps; step++)
        {
            parameter.BindGradient(gradients[step]);
            Assert.True(optimizer.Step().Applied);
            var w = parameter.GetValues<double>();
            for (var i = 0; i < Length; i++)
            {
                Assert.True(BitConverter.DoubleToInt64Bits(expected[step][i]) == BitConverter.DoubleToInt64Bits(w[i]),
                    $"{precision}, β₁ {beta1}, step {step + 1}, element {i}: expected {expected[step][i]:R}, got {w[i]:R}");
            }
        }
    }

    /// <summary>The formula element by element: d = (T)g; with momentum m ← β₁·m + (1−β₁)·d, u = (β₁/c₁)·m + (1−β₁)·d
    /// in T (coefficients rounded to T), else u = d; then in fp64 w ← w·(1 − ηλ) − η·(double)u with unrounded η and ηλ.</summary>
    private static double[][] Reference<T>(ShampooOptions o, double[] initial, double[][] gradients) where T : IFloatingPointIeee754<T>
    {
        var w = (double[])initial.Clone();
        var m = new T[w.Length];
        Array.Fill(m, T.Zero);
        var result = new double[gradients.Length][];
        for (var t = 1; t <= gradients.Length; t++)
        {
            var lr = o.LearningRate;
            var c1 = 1.0 - Math.Pow(o.Beta1, t);
            var decay = 1.0 - (lr * o.WeightDecay);
            var keep = T.CreateTruncating(o.Beta1);
            var add = T.CreateTruncating(1.0 - o.Beta1);
            var fromMomentum = T.CreateTruncating(o.Beta1 / c1);
            for (var i = 0; i < w.Length; i++)
            {
                var d = T.CreateTruncating(gradients[t - 1][i]) * T.One;
                var u = d;
                if (o.Beta1 > 0)
                {
                    m[i] = (keep * m[i]) + (add * d);
                    u = (fromMomentum * m[i]) + (add * d);
                }

                w[i] = (w[i] * decay) - (lr * double.CreateTruncating(u));
            }

            result[t - 1] = (double[])w.Clone();
        }

        return result;
    }
}
