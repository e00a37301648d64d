using System.Runtime.InteropServices;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Distributed;

/// <summary>N ranks in one process, one thread each, for fast tests of protocols built on <see cref="ICommunicator.AllGatherV{T}"/>
/// (the only collective they implement): every rank's contribution is exchanged through shared memory at a barrier.</summary>
public sealed class InProcessRanks
{
    private readonly Barrier barrier;
    private readonly byte[][] contributions;

    private InProcessRanks(int size)
    {
        barrier = new Barrier(size);
        contributions = new byte[size][];
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="size"/> ranks at once and returns what each rank's run
    /// threw (null where it returned); fails the test if a rank is still running after 30 s.</summary>
    public static Exception?[] Run(int size, Action<ICommunicator> body)
    {
        var group = new InProcessRanks(size);
        var outcomes = new Exception?[size];
        var threads = Enumerable.Range(0, size).Select(rank => new Thread(() =>
        {
            try
            {
                body(new Member(group, rank, size));
            }
            catch (Exception e)
            {
                outcomes[rank] = e;
                group.barrier.RemoveParticipant();
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.True(threads.All(t => t.Join(TimeSpan.FromSeconds(30))), "A rank did not finish: the protocol deadlocked.");
        return outcomes;
    }

    private sealed class Member(InProcessRanks group, int rank, int size) : ICommunicator
    {
        public int Rank => rank;

        public int Size => size;

        public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
            where T : unmanaged
        {
            Assert.Equal(counts[rank], send.Length);
            group.contributions[rank] = MemoryMarshal.AsBytes(send).ToArray();
            group.barrier.SignalAndWait();
            for (var r = 0; r < size; r++)
            {
                // Every rank must have passed the same counts, or MPI would corrupt memory: check it as MPI cannot.
                Assert.Equal(counts[r] * System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), group.contributions[r].Length);
                MemoryMarshal.Cast<byte, T>(group.contributions[r]).CopyTo(receive.Slice(displacements[r], counts[r]));
            }

            group.barrier.SignalAndWait();
        }

        public void AllReduceSum(Span<double> values)
        {
            group.contributions[rank] = MemoryMarshal.AsBytes(values).ToArray();
            group.barrier.SignalAndWait();
            var sum = new double[values.Length];
            for (var r = 0; r < size; r++)
            {
                // A rank that left (threw) before contributing adds nothing, as a lost MPI rank would not.
                if (group.contributions[r] is { } bytes)
                {
                    var theirs = MemoryMarshal.Cast<byte, double>(bytes);
                    Assert.Equal(values.Length, theirs.Length);
                    for (var i = 0; i < sum.Length; i++)
                    {
                        sum[i] += theirs[i];
                    }
                }
            }

            group.barrier.SignalAndWait();
            group.contributions[rank] = null!;
            sum.CopyTo(values);
        }

        public void AllReduceSum(Span<float> values) => throw new NotSupportedException();

        public void Broadcast<T>(Span<T> values, int root)
            where T : unmanaged => throw new NotSupportedException();

        public void Barrier() => throw new NotSupportedException();

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        public void Abort(int exitCode) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
