using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>A test-only communicator for ranks that are threads of this process: every collective publishes each rank's
/// buffer address, meets at a barrier, copies, and meets again before anyone may reuse its buffer. Allocates nothing
/// per call once created (sums use preallocated scratch), so allocation tests can run distributed code.</summary>
internal sealed unsafe class InProcessCommunicator : ICommunicator
{
    private readonly Group group;

    private InProcessCommunicator(Group group, int rank)
    {
        this.group = group;
        Rank = rank;
    }

    public int Rank { get; }

    public int Size => group.Size;

    /// <summary>One communicator per rank of a new group of <paramref name="size"/> ranks (each used by one thread).</summary>
    public static InProcessCommunicator[] Create(int size, int maxReduceLength = 1 << 16)
    {
        var group = new Group(size, maxReduceLength);
        return Enumerable.Range(0, size).Select(r => new InProcessCommunicator(group, r)).ToArray();
    }

    public void AllReduceSum(Span<double> values) => Reduce(values, group.DoubleScratch[Rank]);

    public void AllReduceSum(Span<float> values) => Reduce(values, group.FloatScratch[Rank]);

    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
        where T : unmanaged
    {
        if (counts.Length != Size || displacements.Length != Size || send.Length != counts[Rank])
        {
            throw new ArgumentException("AllGatherV: counts, displacements or send length do not match.");
        }

        fixed (T* s = send)
        {
            group.Buffers[Rank] = (nint)s;
            group.Barrier.SignalAndWait();
            for (var r = 0; r < Size; r++)
            {
                new ReadOnlySpan<T>((void*)group.Buffers[r], counts[r]).CopyTo(receive.Slice(displacements[r], counts[r]));
            }

            group.Barrier.SignalAndWait();
        }
    }

    public void Broadcast<T>(Span<T> values, int root)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (T* v = values)
        {
            group.Buffers[Rank] = (nint)v;
            group.Barrier.SignalAndWait();
            if (Rank != root)
            {
                new ReadOnlySpan<T>((void*)group.Buffers[root], values.Length).CopyTo(values);
            }

            group.Barrier.SignalAndWait();
        }
    }

    public void Barrier() => group.Barrier.SignalAndWait();

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Abort(int exitCode) => throw new InvalidOperationException($"Rank {Rank} aborted the in-process job with exit code {exitCode}.");

    public void Dispose()
    {
    }

    /// <summary>Sums element by element in rank order (the same bits on every rank).</summary>
    private void Reduce<T>(Span<T> values, T[] scratch)
        where T : unmanaged, System.Numerics.IAdditionOperators<T, T, T>
    {
        fixed (T* v = values)
        {
            group.Buffers[Rank] = (nint)v;
            group.Barrier.SignalAndWait();
            for (var i = 0; i < values.Length; i++)
            {
                var sum = ((T*)group.Buffers[0])[i];
                for (var r = 1; r < Size; r++)
                {
                    sum += ((T*)group.Buffers[r])[i];
                }

                scratch[i] = sum;
            }

            group.Barrier.SignalAndWait();
            scratch.AsSpan(0, values.Length).CopyTo(values);
        }
    }

    private sealed class Group(int size, int maxReduceLength)
    {
        public int Size { get; } = size;

        public SpinBarrier Barrier { get; } = new(size);

        public nint[] Buffers { get; } = new nint[size];

        public double[][] DoubleScratch { get; } = Enumerable.Range(0, size).Select(_ => new double[maxReduceLength]).ToArray();

        public float[][] FloatScratch { get; } = Enumerable.Range(0, size).Select(_ => new float[maxReduceLength]).ToArray();
    }

    /// <summary>A sense-reversing barrier that spins and yields: System.Threading.Barrier allocates its wait lock lazily
    /// on the first blocking wait, which an allocation test would count.</summary>
    private sealed class SpinBarrier(int size)
    {
        private int arrived;
        private int generation;

        public void SignalAndWait()
        {
            var current = Volatile.Read(ref generation);
            if (Interlocked.Increment(ref arrived) == size)
            {
                Volatile.Write(ref arrived, 0);
                Interlocked.Increment(ref generation);
                return;
            }

            var spin = default(SpinWait);
            while (Volatile.Read(ref generation) == current)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }
}
