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

    /// <summary>Span overload for convenience.</summary>
    public static bool All<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T> => All((ReadOnlySpan<T>)values);
}
