using System.Numerics;
using ShampooMkl.Linalg;

namespace ShampooMkl.Tests.Linalg;

/// <summary>NaN/±∞ detection in both the vectorised body and the scalar tail.</summary>
public class FiniteCheckTests
{
    [Fact]
    public void All_DetectsEveryNonFiniteValueAtEveryPosition_Double() => DetectsEverywhere<double>();

    [Fact]
    public void All_DetectsEveryNonFiniteValueAtEveryPosition_Single() => DetectsEverywhere<float>();

    [Fact]
    public void All_IsTrueForFiniteValuesIncludingExtremes_Double() => TrueForFinite<double>();

    [Fact]
    public void All_IsTrueForFiniteValuesIncludingExtremes_Single() => TrueForFinite<float>();

    [Fact]
    public void All_IsTrueForEmptySpan()
    {
        Assert.True(FiniteCheck.All(ReadOnlySpan<double>.Empty));
        Assert.True(FiniteCheck.All(Span<float>.Empty));
    }

    [Fact]
    public void MaxMagnitude_IsTheLargestAbsoluteValue_OrInfinityForAnyNonFinite_Double() => MaxMagnitudeEverywhere<double>();

    [Fact]
    public void MaxMagnitude_IsTheLargestAbsoluteValue_OrInfinityForAnyNonFinite_Single() => MaxMagnitudeEverywhere<float>();

    [Fact]
    public void MaxMagnitude_OfAnEmptySpan_IsZero() => Assert.Equal(0.0, FiniteCheck.MaxMagnitude(ReadOnlySpan<double>.Empty));

    private static void MaxMagnitudeEverywhere<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var n in Lengths<T>())
        {
            for (var at = 0; at < n; at++)
            {
                var values = Enumerable.Range(0, n).Select(i => T.CreateTruncating(((i % 3) - 1) * 0.5)).ToArray();
                values[at] = -T.CreateTruncating(7.25);
                Assert.Equal(7.25, FiniteCheck.MaxMagnitude<T>(values));
                foreach (var bad in new[] { T.NaN, T.PositiveInfinity, T.NegativeInfinity })
                {
                    values[at] = bad;
                    Assert.Equal(double.PositiveInfinity, FiniteCheck.MaxMagnitude<T>(values));
                }
            }
        }
    }

    // Lengths cover: shorter than one vector (tail only), exactly whole vectors (body only), and body + tail.
    private static int[] Lengths<T>() where T : struct =>
        [1, Vector<T>.Count - 1, Vector<T>.Count, (3 * Vector<T>.Count) + 3];

    private static void DetectsEverywhere<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var length in Lengths<T>().Where(l => l > 0))
        {
            foreach (var bad in new[] { T.NaN, T.PositiveInfinity, T.NegativeInfinity })
            {
                for (var position = 0; position < length; position++)
                {
                    var values = Enumerable.Range(0, length).Select(i => T.CreateChecked(i - 2.5)).ToArray();
                    values[position] = bad;

                    Assert.False(FiniteCheck.All<T>(values.AsSpan()), $"{typeof(T).Name}[{length}]: {bad} at {position} not detected");
                    Assert.False(FiniteCheck.All<T>((ReadOnlySpan<T>)values), $"{typeof(T).Name}[{length}]: {bad} at {position} not detected (read-only)");
                }
            }
        }
    }

    private static void TrueForFinite<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        foreach (var length in Lengths<T>().Where(l => l > 0))
        {
            // MaxValue − MaxValue is still 0, and an overflowing sum of many MaxValue must not be mistaken for ∞.
            var values = Enumerable.Range(0, length)
                .Select(i => (i % 4) switch { 0 => T.MaxValue, 1 => T.MinValue, 2 => T.Epsilon, _ => T.NegativeZero })
                .ToArray();

            Assert.True(FiniteCheck.All<T>(values.AsSpan()), $"{typeof(T).Name}[{length}]");
        }
    }
}
