using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace ShampooMkl.Preconditioning;

/// <summary>Copies between fp32 and fp64 spans, whichever side is which, without allocating.</summary>
internal static class Precision
{
    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/>, converting precision if needed.</summary>
    public static void Convert<TFrom, TTo>(ReadOnlySpan<TFrom> source, Span<TTo> destination)
        where TFrom : unmanaged where TTo : unmanaged
    {
        if (source.Length > destination.Length)
        {
            throw new ArgumentException($"Destination holds {destination.Length} elements, source has {source.Length}.", nameof(destination));
        }

        if (typeof(TFrom) == typeof(TTo))
        {
            MemoryMarshal.Cast<TFrom, byte>(source).CopyTo(MemoryMarshal.Cast<TTo, byte>(destination));
        }
        else if (typeof(TFrom) == typeof(float) && typeof(TTo) == typeof(double))
        {
            TensorPrimitives.ConvertChecked(MemoryMarshal.Cast<TFrom, float>(source), MemoryMarshal.Cast<TTo, double>(destination));
        }
        else if (typeof(TFrom) == typeof(double) && typeof(TTo) == typeof(float))
        {
            TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<TFrom, double>(source), MemoryMarshal.Cast<TTo, float>(destination));
        }
        else
        {
            throw new NotSupportedException($"Conversion from {typeof(TFrom).Name} to {typeof(TTo).Name} is not supported.");
        }
    }
}
