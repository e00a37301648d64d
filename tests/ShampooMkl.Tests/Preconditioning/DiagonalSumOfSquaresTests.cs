using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Linalg;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Preconditioning;

/// <summary>Σd² of the diagonal preconditioner (the grafting norm) has the bits of the documented eight-lane order on
/// both paths, for every slice length and offset, including zero-denominator elements.</summary>
public class DiagonalSumOfSquaresTests
{
    private const int Length = 160;

    [Theory]
    [InlineData(1e-3)]
    [InlineData(0.0)]
    public void SumOfSquaredDirections_MatchesEightLaneReferenceOnBothPaths_Single(double epsilon) => BothPaths<float>(epsilon);

    [Theory]
    [InlineData(1e-3)]
    [InlineData(0.0)]
    public void SumOfSquaredDirections_MatchesEightLaneReferenceOnBothPaths_Double(double epsilon) => BothPaths<double>(epsilon);

    private static void BothPaths<T>(double epsilon) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const double beta2 = 0.9;
        using var p = new DiagonalPreconditioner(Length, beta2, epsilon);
        for (var step = 1; step <= 2; step++)
        {
            var g = SeededRandom.Gaussian(60 + step, Length);
            for (var i = 0; i < Length; i += 7)
            {
                g[i] = 0; // v stays 0 here: with ε = 0 the denominator is 0 and d must be 0
            }

            p.Update(g);
        }

        var correction = p.Correction;
        var gradient = SeededRandom.Gaussian(70, Length).Select((x, i) => T.CreateTruncating(x * Math.Pow(10, (i % 9) - 4))).ToArray();
        var v = p.Accumulator.ToArray();
        foreach (var offset in new[] { 0, 3, 13 })
        {
            for (var n = 0; n <= 70; n++)
            {
                var slice = gradient.AsSpan(offset, n);
                var terms = new double[n];
                for (var i = 0; i < n; i++)
                {
                    var denom = Math.Sqrt(v[offset + i] / correction) + epsilon;
                    terms[i] = denom > 0 ? double.CreateTruncating(slice[i]) / denom : 0.0;
                }

                var expected = FixedOrderSumTests.EightLaneReference(terms);
                var what = $"{typeof(T).Name} ε = {epsilon} offset {offset} n = {n}";
                FixedOrderSumTests.AssertSameBits(expected, p.SumOfSquaredDirections<T>(slice, offset, correction), what);
                FixedOrderSumTests.AssertSameBits(expected, p.SumOfSquaredDirections<T>(slice, offset, correction, vectorized: true), what + " vector");
                FixedOrderSumTests.AssertSameBits(expected, p.SumOfSquaredDirections<T>(slice, offset, correction, vectorized: false), what + " scalar");
                foreach (var path in Enum.GetValues<SumPath>())
                {
                    FixedOrderSumTests.AssertSameBits(expected, p.SumOfSquaredDirections<T>(slice, offset, correction, path), $"{what} {path}");
                }
            }
        }
    }
}
