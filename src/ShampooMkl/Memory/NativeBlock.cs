using System.Runtime.InteropServices;

namespace ShampooMkl.Memory;

/// <summary>A 64-byte-aligned block of unmanaged memory: pinned by construction, invisible to the GC.</summary>
/// <remarks>64 bytes is one cache line and one AVX-512 register, the alignment MKL recommends for its
/// kernels; unmanaged memory also means no pinning handles on the hot path.</remarks>
internal sealed unsafe class NativeBlock : IDisposable
{
    /// <summary>Alignment in bytes of every block.</summary>
    public const int Alignment = 64;

    private void* pointer;

    /// <summary>Allocates <paramref name="bytes"/> zeroed bytes.</summary>
    public NativeBlock(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ByteLength = bytes;
        pointer = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, Alignment), Alignment);
        NativeMemory.Clear(pointer, (nuint)Math.Max(bytes, Alignment));
        GC.AddMemoryPressure(Math.Max(bytes, 1));
    }

    /// <summary>Capacity in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>Start of the block; valid until disposal.</summary>
    public void* Pointer => pointer != null ? pointer : throw new ObjectDisposedException(nameof(NativeBlock));

    /// <summary>The block viewed as <typeparamref name="T"/> elements.</summary>
    public Span<T> AsSpan<T>(int length) where T : unmanaged
    {
        if ((long)length * sizeof(T) > ByteLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"{length} elements of {typeof(T).Name} exceed the block's {ByteLength} bytes.");
        }

        return new Span<T>(Pointer, length);
    }

    /// <summary>Frees the memory.</summary>
    public void Dispose()
    {
        if (pointer != null)
        {
            NativeMemory.AlignedFree(pointer);
            pointer = null;
            GC.RemoveMemoryPressure(Math.Max(ByteLength, 1));
        }

        GC.SuppressFinalize(this);
    }

    ~NativeBlock()
    {
        if (pointer != null)
        {
            NativeMemory.AlignedFree(pointer);
        }
    }
}
