namespace ShampooMkl.Memory;

/// <summary>A pool of aligned, pinned scratch buffers for workspaces and temporaries.</summary>
/// <remarks>
/// Buckets are powers of two in bytes; each bucket is a <see cref="Stack{T}"/> under one lock, because a
/// stack that does not grow neither allocates on push nor pop, which keeps a steady-state optimizer step
/// at zero managed allocations. <see cref="Outstanding"/> lets tests prove that nothing leaks. A pool keeps its
/// blocks until it is disposed (or, undisposed, until the blocks' finalizers run after the pool is collected).
/// </remarks>
internal sealed class BufferPool : IDisposable
{
    private const int MinShift = 6;
    private const int MaxShift = 40;

    private readonly Stack<NativeBlock>[] buckets = new Stack<NativeBlock>[MaxShift + 1];
    private readonly object gate = new();
    private long outstanding;
    private long allocatedBytes;
    private bool disposed;

    /// <summary>The process-wide pool.</summary>
    public static BufferPool Shared { get; } = new();

    /// <summary>Buffers rented and not yet returned.</summary>
    public long Outstanding => Interlocked.Read(ref outstanding);

    /// <summary>Bytes of native memory this pool has ever allocated (it frees them only when disposed).</summary>
    public long AllocatedBytes => Interlocked.Read(ref allocatedBytes);

    /// <summary>Rents a buffer of at least <paramref name="length"/> elements; dispose it to give it back.</summary>
    /// <remarks>The contents are not cleared: callers overwrite what they use.</remarks>
    public unsafe PooledBuffer<T> Rent<T>(int length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var bytes = Math.Max((long)length * sizeof(T), 1L << MinShift);
        var shift = Math.Max(MinShift, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));
        NativeBlock? block = null;
        lock (gate)
        {
            var bucket = buckets[shift];
            if (bucket is not null && bucket.Count > 0)
            {
                block = bucket.Pop();
            }
        }

        if (block is null)
        {
            block = new NativeBlock(1L << shift);
            Interlocked.Add(ref allocatedBytes, 1L << shift);
        }

        Interlocked.Increment(ref outstanding);
        return new PooledBuffer<T>(this, block, length, shift);
    }

    /// <summary>Frees every idle buffer; a buffer still rented is freed when it is returned. Renting afterwards still
    /// works but no longer pools (each buffer is freed on return). A second call does nothing.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            foreach (var bucket in buckets)
            {
                while (bucket is { Count: > 0 })
                {
                    bucket.Pop().Dispose();
                }
            }
        }
    }

    internal void Return(NativeBlock block, int shift)
    {
        lock (gate)
        {
            if (disposed)
            {
                block.Dispose();
            }
            else
            {
                (buckets[shift] ??= new Stack<NativeBlock>(4)).Push(block);
            }
        }

        Interlocked.Decrement(ref outstanding);
    }
}
