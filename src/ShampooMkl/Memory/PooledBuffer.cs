namespace ShampooMkl.Memory;

/// <summary>A rented buffer; disposing it returns the memory to its <see cref="BufferPool"/>.</summary>
internal unsafe struct PooledBuffer<T> : IDisposable where T : unmanaged
{
    private BufferPool? pool;
    private readonly NativeBlock block;
    private readonly int shift;

    internal PooledBuffer(BufferPool pool, NativeBlock block, int length, int shift)
    {
        this.pool = pool;
        this.block = block;
        this.shift = shift;
        Length = length;
    }

    /// <summary>Elements requested.</summary>
    public int Length { get; }

    /// <summary>The requested elements.</summary>
    public readonly Span<T> Span => block.AsSpan<T>(Length);

    /// <summary>Address of the first element (64-byte aligned).</summary>
    public readonly T* Pointer => (T*)block.Pointer;

    /// <summary>Gives the buffer back; a second call does nothing.</summary>
    public void Dispose()
    {
        if (pool is not null)
        {
            pool.Return(block, shift);
            pool = null;
        }
    }
}
