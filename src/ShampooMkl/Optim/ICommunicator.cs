namespace ShampooMkl.Optim;

/// <summary>The collective operations distributed Shampoo needs, over all processes of one job.</summary>
/// <remarks>
/// Every method is collective: all ranks must call the same methods in the same order with matching
/// lengths, or the job deadlocks (MPI cannot detect most mismatches). Arguments are validated locally before
/// communicating, so a validation exception on one rank leaves the others waiting in the collective; a
/// caller that cannot recover should call <see cref="Abort"/> rather than carry on. Calls allocate nothing:
/// spans are pinned for the duration of the call. Implementations serialise calls from different threads.
/// </remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>The number of processes in the job.</summary>
    int Size { get; }

    /// <summary>Replaces <paramref name="values"/> on every rank with the element-wise sum over all ranks.</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>Replaces <paramref name="values"/> on every rank with the element-wise sum over all ranks.</summary>
    void AllReduceSum(Span<float> values);

    /// <summary>
    /// Gathers every rank's <paramref name="send"/> into <paramref name="receive"/> on every rank: rank r's
    /// elements land at <c>receive[displacements[r] .. displacements[r] + counts[r]]</c>.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="counts"/> or <paramref name="displacements"/> is not <see cref="Size"/> long, a count or
    /// displacement is negative, <paramref name="send"/> is not <c>counts[Rank]</c> long, or a rank's range does
    /// not fit in <paramref name="receive"/>.
    /// </exception>
    void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
        where T : unmanaged;

    /// <summary>Copies <paramref name="values"/> from rank <paramref name="root"/> into every other rank's span.</summary>
    /// <remarks>Byte spans carry serialised options or checkpoints so that all ranks agree on them.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a valid rank.</exception>
    void Broadcast<T>(Span<T> values, int root)
        where T : unmanaged;

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>Ends every process of the job with <paramref name="exitCode"/>; for failures one rank cannot report to the others.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    void Abort(int exitCode);
}
