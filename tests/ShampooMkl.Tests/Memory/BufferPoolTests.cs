using ShampooMkl.Memory;

namespace ShampooMkl.Tests.Memory;

/// <summary>The pool and aligned blocks: reuse, alignment, leak accounting, harmless double dispose.</summary>
public class BufferPoolTests
{
    [Fact]
    public void RentAndReturn_LeavesNothingOutstanding()
    {
        var pool = new BufferPool();
        var a = pool.Rent<double>(100);
        var b = pool.Rent<float>(3);
        var c = pool.Rent<int>(0);

        Assert.Equal(3, pool.Outstanding);
        a.Dispose();
        b.Dispose();
        c.Dispose();
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void Rent_ReusesReturnedBuffers()
    {
        var pool = new BufferPool();
        unsafe
        {
            nint first;
            using (var buffer = pool.Rent<double>(1000))
            {
                first = (nint)buffer.Pointer;
            }

            var allocated = pool.AllocatedBytes;
            for (var i = 0; i < 10; i++)
            {
                // Any length in the same power-of-two bucket (8 000 bytes → 8 KiB) gets the same block back.
                using var again = pool.Rent<double>(600 + (i * 40));
                Assert.Equal(first, (nint)again.Pointer);
            }

            Assert.Equal(allocated, pool.AllocatedBytes);
        }
    }

    [Fact]
    public void Dispose_FreesIdleBuffers_AndBuffersReturnedLater()
    {
        var pool = new BufferPool();
        var idle = pool.Rent<double>(100);
        var held = pool.Rent<double>(5000);
        idle.Dispose();
        pool.Dispose();

        held.Dispose();
        Assert.Equal(0, pool.Outstanding);

        // Nothing is cached any more: the same size allocates afresh, and is freed again on return.
        var allocated = pool.AllocatedBytes;
        using (var again = pool.Rent<double>(100))
        {
            again.Span.Fill(1.0);
        }

        Assert.True(pool.AllocatedBytes > allocated);
        Assert.Equal(0, pool.Outstanding);
        pool.Dispose();
    }

    [Fact]
    public void Rent_GivesSixtyFourByteAlignedPointers()
    {
        var pool = new BufferPool();
        var rented = new List<PooledBuffer<byte>>();
        foreach (var length in new[] { 0, 1, 7, 63, 64, 65, 1000, 4097, 1 << 20 })
        {
            var buffer = pool.Rent<byte>(length);
            unsafe
            {
                Assert.Equal(0, (nint)buffer.Pointer % NativeBlock.Alignment);
            }

            Assert.Equal(length, buffer.Length);
            Assert.Equal(length, buffer.Span.Length);
            rented.Add(buffer);
        }

        foreach (var buffer in rented)
        {
            buffer.Dispose();
        }

        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void PooledBuffer_DoubleDisposeIsHarmless()
    {
        var pool = new BufferPool();
        var buffer = pool.Rent<double>(32);
        var other = pool.Rent<double>(32);

        buffer.Dispose();
        buffer.Dispose();

        Assert.Equal(1, pool.Outstanding);
        // Had the second Dispose pushed the block again, two rentals would now share one block.
        using var x = pool.Rent<double>(32);
        using var y = pool.Rent<double>(32);
        unsafe
        {
            Assert.NotEqual((nint)x.Pointer, (nint)y.Pointer);
            Assert.NotEqual((nint)other.Pointer, (nint)x.Pointer);
        }

        other.Dispose();
    }

    [Fact]
    public void Rent_ThrowsForNegativeLength()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BufferPool().Rent<double>(-1));
    }

    [Fact]
    public void Rent_ContentsAreWritableOverTheRequestedLength()
    {
        var pool = new BufferPool();
        using var buffer = pool.Rent<double>(77);

        buffer.Span.Fill(3.5);

        Assert.All(buffer.Span.ToArray(), v => Assert.Equal(3.5, v));
    }

    [Fact]
    public void AlignedArray_IsZeroedAlignedAndSized()
    {
        using var array = new AlignedArray<double>(13);

        Assert.Equal(13, array.Length);
        Assert.All(array.Span.ToArray(), v => Assert.Equal(0.0, v));
        unsafe
        {
            Assert.Equal(0, (nint)array.Pointer % NativeBlock.Alignment);
        }
    }

    [Fact]
    public void NativeBlock_ThrowsAfterDisposeAndForOversizedViews()
    {
        var block = new NativeBlock(64);

        Assert.Throws<ArgumentOutOfRangeException>(() => block.AsSpan<double>(9));
        block.Dispose();
        block.Dispose();
        Assert.Throws<ObjectDisposedException>(() => block.AsSpan<double>(1));
    }
}
