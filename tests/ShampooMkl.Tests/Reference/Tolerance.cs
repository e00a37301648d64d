using System.Globalization;
using System.Numerics;
using System.Text;

namespace ShampooMkl.Tests.Reference;

/// <summary>Numerical comparisons whose failures say where and by how much, and tolerances derived from precision rather than guessed.</summary>
public static class Tolerance
{
    /// <summary>Safety factor c in c·n·ε; see <see cref="ForPrecision{T}(int, double)"/>.</summary>
    public const double DefaultSafetyFactor = 8;

    /// <summary>
    /// A relative tolerance c·n·ε_T for results built from length-n sums in precision T.
    /// </summary>
    /// <remarks>
    /// Why n·ε: recursive summation of n products has a worst-case relative error bound
    /// γ_n = n·u/(1 − n·u) ≈ n·u (Higham, Accuracy and Stability, §3.1), with u = ε/2 the unit
    /// roundoff; blocked BLAS kernels do better (roughly √n·u for random data) but we must not depend
    /// on a particular kernel. The factor c (default 8) absorbs the handful of such operations a test
    /// chains together (e.g. a product followed by an eigen-decomposition). ε is the gap between 1 and
    /// the next representable T: 2⁻⁵² for double, 2⁻²³ for float, 2⁻¹⁰ for Half.
    /// </remarks>
    public static double ForPrecision<T>(int n, double safetyFactor = DefaultSafetyFactor)
        where T : IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        return safetyFactor * Math.Max(n, 1) * MachineEpsilon<T>();
    }

    /// <summary>Distance from 1 to the next larger T (not <c>T.Epsilon</c>, which is the smallest subnormal).</summary>
    public static double MachineEpsilon<T>()
        where T : IFloatingPointIeee754<T> =>
        double.CreateChecked(T.BitIncrement(T.One) - T.One);

    /// <summary>Fails unless |e − a| ≤ absTol + relTol·|e| for every element.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double relTol, double absTol, string what)
    {
        if (expected.Length != actual.Length)
        {
            Assert.Fail($"{what}: expected {expected.Length} elements, got {actual.Length}.");
        }

        int failures = 0;
        int worst = -1;
        double worstExcess = 0;
        int first = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double allowed = absTol + (relTol * Math.Abs(expected[i]));
            double diff = Math.Abs(expected[i] - actual[i]);
            // Written as !(diff <= allowed) so NaN in either array counts as a failure.
            if (!(diff <= allowed))
            {
                failures++;
                if (first < 0)
                {
                    first = i;
                }

                double excess = double.IsNaN(diff) ? double.PositiveInfinity : diff / Math.Max(allowed, double.Epsilon);
                if (worst < 0 || excess > worstExcess)
                {
                    worst = i;
                    worstExcess = excess;
                }
            }
        }

        if (failures == 0)
        {
            return;
        }

        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"{what}: {failures} of {expected.Length} elements out of tolerance (rel {relTol:E2}, abs {absTol:E2}).");
        message.AppendLine();
        AppendElement(message, "first", first, expected[first], actual[first], absTol + (relTol * Math.Abs(expected[first])));
        if (worst != first)
        {
            AppendElement(message, "worst", worst, expected[worst], actual[worst], absTol + (relTol * Math.Abs(expected[worst])));
        }

        Assert.Fail(message.ToString());
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relTol, double absTol, string what) =>
        AssertClose(Widen(expected), Widen(actual), relTol, absTol, what);

    public static void AssertClose(double expected, double actual, double relTol, double absTol, string what) =>
        AssertClose([expected], [actual], relTol, absTol, what);

    /// <summary>Equality up to a global sign, for singular/eigen vectors whose sign is arbitrary.</summary>
    public static void AssertCloseUpToSign(double[] expected, double[] actual, double relTol, double absTol, string what)
    {
        double dot = DenseMatrix.FrobeniusInner(expected, actual);
        double[] aligned = dot < 0 ? actual.Select(x => -x).ToArray() : actual;
        AssertClose(expected, aligned, relTol, absTol, what + " (up to sign)");
    }

    private static double[] Widen(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }

        return result;
    }

    private static void AppendElement(StringBuilder message, string label, int index, double expected, double actual, double allowed)
    {
        double diff = Math.Abs(expected - actual);
        message.Append(CultureInfo.InvariantCulture,
            $"  {label} at [{index}]: expected {expected:R}, actual {actual:R}, |diff| {diff:E3} > allowed {allowed:E3}");
        if (expected != 0)
        {
            message.Append(CultureInfo.InvariantCulture, $" (relative {diff / Math.Abs(expected):E3})");
        }

        message.AppendLine();
    }
}
