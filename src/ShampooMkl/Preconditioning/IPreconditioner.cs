namespace ShampooMkl.Preconditioning;

/// <summary>The drop-in contract for a managed framework: one parameter block's statistics and preconditioner.</summary>
/// <remarks>
/// Gradients and directions are row-major spans of <see cref="Rows"/>×<see cref="Cols"/> elements, in
/// fp32 or fp64 whatever the precision the statistics are kept in. A framework adapter only maps its
/// tensors to spans; it never sees BLAS. Every method validates its input before touching state, so a
/// rejected call leaves the preconditioner exactly as it was.
/// </remarks>
public interface IPreconditioner : IDisposable
{
    /// <summary>Rows of the block (the vector length for a diagonal preconditioner).</summary>
    int Rows { get; }

    /// <summary>Columns of the block (1 for a diagonal preconditioner).</summary>
    int Cols { get; }

    /// <summary>How many gradients have been accumulated.</summary>
    long UpdateCount { get; }

    /// <summary>Whether the roots have been computed at least once (before that, preconditioning is the identity).</summary>
    bool HasRoots { get; }

    /// <summary>Accumulates one gradient into the statistics.</summary>
    /// <exception cref="ArgumentException">Wrong length, or a NaN/±∞ element (state unchanged).</exception>
    void Update(ReadOnlySpan<float> gradient);

    /// <inheritdoc cref="Update(ReadOnlySpan{float})"/>
    void Update(ReadOnlySpan<double> gradient);

    /// <summary>Recomputes the inverse roots from the statistics. On failure the previous roots stay in force.</summary>
    RootRefreshResult RefreshRoots();

    /// <summary>Writes the preconditioned direction of <paramref name="gradient"/> into <paramref name="direction"/>.</summary>
    /// <exception cref="ArgumentException">Wrong lengths, or the spans overlap.</exception>
    void Precondition(ReadOnlySpan<float> gradient, Span<float> direction);

    /// <inheritdoc cref="Precondition(ReadOnlySpan{float}, Span{float})"/>
    void Precondition(ReadOnlySpan<double> gradient, Span<double> direction);

    /// <summary>A copy of the complete state, for checkpoints.</summary>
    IReadOnlyList<StateTensor> ExportState();

    /// <summary>Replaces the state with an exported one; validates everything first, so a bad state changes nothing.</summary>
    /// <exception cref="InvalidDataException">Missing tensors, wrong shapes or non-finite values.</exception>
    void ImportState(IReadOnlyList<StateTensor> state);
}
