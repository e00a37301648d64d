using System.Numerics;
using ShampooMkl.Linalg;

namespace ShampooMkl.Preconditioning;

/// <summary>Input checks every preconditioner runs before it touches state.</summary>
internal static class GradientGuard
{
    /// <summary>Checks length and finiteness of a gradient for an m×n block.</summary>
    /// <exception cref="ArgumentException">Wrong length, or a NaN/±∞ element.</exception>
    public static void Check<T>(ReadOnlySpan<T> gradient, int expectedLength, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (gradient.Length != expectedLength)
        {
            throw new ArgumentException($"Gradient has {gradient.Length} elements; the {rows}×{cols} block needs {expectedLength}.", nameof(gradient));
        }

        if (!FiniteCheck.All(gradient))
        {
            throw new ArgumentException($"Gradient of the {rows}×{cols} block contains NaN or infinite values; the statistics were not updated.", nameof(gradient));
        }
    }

    /// <summary>Checks that gradient and direction both have the block's length and do not overlap.</summary>
    public static void CheckLengths<T>(ReadOnlySpan<T> gradient, Span<T> direction, int expectedLength)
    {
        if (gradient.Length != expectedLength || direction.Length != expectedLength)
        {
            throw new ArgumentException($"Gradient ({gradient.Length}) and direction ({direction.Length}) must both have {expectedLength} elements.");
        }

        if (gradient.Overlaps(direction))
        {
            throw new ArgumentException("The direction must not overlap the gradient.", nameof(direction));
        }
    }
}
