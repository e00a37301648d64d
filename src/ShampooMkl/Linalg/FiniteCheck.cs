using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ShampooMkl.Linalg;

/// <summary>Vectorised test that every element of a span is finite (no NaN, no ±∞).</summary>
public static class FiniteCheck
{
    /// <summary>True when no element is NaN or infinite.</summary>
    /// <remarks>x − x is 0 for finite x and NaN otherwise, so one running sum of (x − x) answers the
    /// question in a single branch-free pass.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool All<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = Vector<T>.Zero;
        var vectors = MemoryMarshal.Cast<T, Vector<T>>(values);
        foreach (var v in vectors)
        {
            acc += v - v;
        }

        var scalar = T.Zero;
        for (var i = vectors.Length * Vector<T>.Count; i < values.Length; i++)
        {
            scalar += values[i] - values[i];
        }

        return Vector.EqualsAll(acc, Vector<T>.Zero) && scalar == T.Zero;
    }

    /// <summary>The largest |x| of <paramref name="values"/> (0 when empty), or +∞ when any element is NaN or infinite:
    /// the finiteness test of <see cref="All{T}(ReadOnlySpan{T})"/> and the magnitude in the same single pass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double MaxMagnitude<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = Vector<T>.Zero;
        var max = Vector<T>.Zero;
        var vectors = MemoryMarshal.Cast<T, Vector<T>>(values);
        foreach (var v in vectors)
        {
            acc += v - v;
            max = Vector.Max(max, Vector.Abs(v));
        }

        var scalar = T.Zero;
        var largest = T.Zero;
        for (var i = vectors.Length * Vector<T>.Count; i < values.Length; i++)
        {
            scalar += values[i] - values[i];
            largest = T.Max(largest, T.Abs(values[i]));
        }

        if (!Vector.EqualsAll(acc, Vector<T>.Zero) || scalar != T.Zero)
        {
            return double.PositiveInfinity;
        }

        for (var k = 0; k < Vector<T>.Count; k++)
        {
            largest = T.Max(largest, max[k]);
        }

        return double.CreateTruncating(largest);
    }

    /// <summary>The largest finite value of <typeparamref name="T"/> (fp32 or fp64), as a double.</summary>
    internal static double LargestFinite<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? float.MaxValue : double.MaxValue;

    /// <summary>Span overload for convenience.</summary>
    public static bool All<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T> => All((ReadOnlySpan<T>)values);
}
