using System.Numerics;
using System.Runtime.Intrinsics;
using ShampooMkl.Linalg;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Linalg;

/// <summary><see cref="FixedOrderSum"/> gives exactly the bits of its documented eight-lane order, on the Vector128 path
/// and on the scalar path, so sums (and grafting scales) agree across machines with different vector widths.</summary>
public class FixedOrderSumTests
{
    /// <summary>0 … 70 (no lane pass, partial and whole lane passes, every tail length) and one long length.</summary>
    private static IEnumerable<int> Lengths => Enumerable.Range(0, 71).Append(100_003);

    /// <summary>The documented order written independently: lane i mod 8 for i below n − n mod 8, the tree
    /// ((l₀ + l₄) + (l₂ + l₆)) + ((l₁ + l₅) + (l₃ + l₇)), then the tail one element at a time.</summary>
    internal static double EightLaneReference(IReadOnlyList<double> terms)
    {
        var blocked = terms.Count / 8 * 8;
        var lanes = new double[8];
        for (var i = 0; i < blocked; i++)
        {
            var square = terms[i] * terms[i];
            lanes[i % 8] += square;
        }

        var sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        for (var i = blocked; i < terms.Count; i++)
        {
            var square = terms[i] * terms[i];
            sum += square;
        }

        return sum;
    }

    /// <summary>Asserts two doubles have the same bits (Assert.Equal on doubles treats −0 and +0 as equal).</summary>
    internal static void AssertSameBits(double expected, double actual, string what) =>
        Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual),
            $"{what}: expected {expected:R}, got {actual:R}");

    [Fact]
    public void SumOfSquares_MatchesEightLaneReferenceBitForBit_Double() => MatchesReference<double>();

    [Fact]
    public void SumOfSquares_MatchesEightLaneReferenceBitForBit_Single() => MatchesReference<float>();

    [Fact]
    public void SumOfSquares_ScalarPathGivesVectorPathBits_Double() => PathsAgree<double>();

    [Fact]
    public void SumOfSquares_ScalarPathGivesVectorPathBits_Single() => PathsAgree<float>();

    [Fact]
    public void SumOfSquares_WidensSingleBeforeSquaring()
    {
        // 1e30² overflows fp32 but not fp64; 1 + 2⁻²⁰ squared needs more than fp32's 24 bits.
        float[] values = [.. Enumerable.Repeat(1e30f, 11), .. Enumerable.Repeat(1 + MathF.Pow(2, -20), 5)];
        var widened = values.Select(x => (double)x).ToArray();
        var got = FixedOrderSum.SumOfSquares<float>(values);
        Assert.True(double.IsFinite(got));
        AssertSameBits(EightLaneReference(widened), got, "fp32 widened");
        AssertSameBits(FixedOrderSum.SumOfSquares<double>(widened), got, "fp32 vs its fp64 copy");
    }

    [Fact]
    public void TestData_DistinguishesTheOrderFromOtherOrders()
    {
        // The data must be able to catch a wrong order: a plain left-to-right sum and Vector<double>-width lanes must
        // differ from the eight-lane order on some lengths, or the bit-equality tests above would prove nothing.
        var sequential = 0;
        var otherTree = 0;
        foreach (var n in Lengths)
        {
            var x = Data<double>(n);
            var expected = EightLaneReference(x);
            sequential += x.Aggregate(0.0, (s, v) => s + (v * v)) != expected ? 1 : 0;
            otherTree += TwoLaneSum(x) != expected ? 1 : 0;
        }

        Assert.True(sequential > 10, $"only {sequential} lengths distinguish the sequential order");
        Assert.True(otherTree > 10, $"only {otherTree} lengths distinguish a two-lane order");
    }

    private static void MatchesReference<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var n in Lengths)
        {
            var x = Data<T>(n);
            var expected = EightLaneReference(x.Select(double.CreateTruncating).ToArray());
            AssertSameBits(expected, FixedOrderSum.SumOfSquares<T>(x), $"{typeof(T).Name} n = {n}");
        }
    }

    private static void PathsAgree<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Both paths run whatever the hardware: without acceleration Vector128 is emulated element by element.
        foreach (var n in Lengths)
        {
            var x = Data<T>(n);
            var vector = FixedOrderSum.SumOfSquares<T>(x, vectorized: true);
            var scalar = FixedOrderSum.SumOfSquares<T>(x, vectorized: false);
            AssertSameBits(vector, scalar, $"{typeof(T).Name} n = {n}, Vector128 accelerated: {Vector128.IsHardwareAccelerated}");
            // Every path explicitly (an unaccelerated one is emulated, so all run on any machine).
            foreach (var path in Enum.GetValues<SumPath>())
            {
                AssertSameBits(scalar, FixedOrderSum.SumOfSquares<T>(x, path), $"{typeof(T).Name} n = {n}, {path}");
            }
        }
    }

    /// <summary>Gaussians scaled over ten decades, so the rounding of a sum depends on its order.</summary>
    private static T[] Data<T>(int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = SeededRandom.Gaussian(11 + n, n);
        var e = SeededRandom.Uniform(12 + n, n, -5, 5);
        return g.Select((x, i) => T.CreateTruncating(x * Math.Pow(10, e[i]))).ToArray();
    }

    /// <summary>What Vector&lt;double&gt; of width 2 would do: two lanes, then the tail.</summary>
    private static double TwoLaneSum(double[] x)
    {
        var blocked = x.Length / 2 * 2;
        double l0 = 0, l1 = 0;
        for (var i = 0; i < blocked; i += 2)
        {
            l0 += x[i] * x[i];
            l1 += x[i + 1] * x[i + 1];
        }

        var sum = l0 + l1;
        for (var i = blocked; i < x.Length; i++)
        {
            sum += x[i] * x[i];
        }

        return sum;
    }
}
