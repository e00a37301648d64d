namespace ShampooMkl.Memory;

/// <summary>A fixed-length, 64-byte-aligned, pinned array of <typeparamref name="T"/> owned by one object.</summary>
/// <remarks>Long-lived state (Kronecker factors, roots, momentum) lives here so BLAS can read it in place.</remarks>
internal sealed unsafe class AlignedArray<T> : IDisposable where T : unmanaged
{
    private readonly NativeBlock block;

    /// <summary>Allocates <paramref name="length"/> zeroed elements.</summary>
    public AlignedArray(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        block = new NativeBlock((long)length * sizeof(T));
    }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>The elements.</summary>
    public Span<T> Span => block.AsSpan<T>(Length);

    /// <summary>First element's address; the memory never moves.</summary>
    public T* Pointer => (T*)block.Pointer;

    /// <summary>Frees the memory.</summary>
    public void Dispose() => block.Dispose();
}
