namespace ShampooMkl.Optim;

/// <summary>The communicator of a job with one process: reductions and broadcasts are no-ops, gathers are copies.</summary>
/// <remarks>It validates arguments exactly as the MPI communicator (<c>Distributed.MpiCommunicator</c>) does, so code that passes on one
/// process does not first fail when it is run under mpirun.</remarks>
public sealed class SingleProcessCommunicator : ICommunicator
{
    private bool disposed;

    /// <inheritdoc />
    public int Rank => 0;

    /// <inheritdoc />
    public int Size => 1;

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values) => ThrowIfDisposed();

    /// <inheritdoc />
    public void AllReduceSum(Span<float> values) => ThrowIfDisposed();

    /// <inheritdoc />
    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
        where T : unmanaged
    {
        ThrowIfDisposed();
        CollectiveArguments.CheckGather(0, 1, send.Length, receive.Length, counts, displacements);
        send.CopyTo(receive.Slice(displacements[0], counts[0]));
    }

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> values, int root)
        where T : unmanaged
    {
        ThrowIfDisposed();
        CollectiveArguments.CheckRoot(root, 1);
    }

    /// <inheritdoc />
    public void Barrier() => ThrowIfDisposed();

    /// <inheritdoc />
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Abort(int exitCode) => Environment.Exit(exitCode);

    /// <inheritdoc />
    public void Dispose() => disposed = true;

    /// <inheritdoc />
    public override string ToString() => "single process (rank 0 of 1)";

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
