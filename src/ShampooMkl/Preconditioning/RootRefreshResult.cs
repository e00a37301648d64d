namespace ShampooMkl.Preconditioning;

/// <summary>What a root refresh did; <see cref="Succeeded"/> is false when the previous roots were kept.</summary>
/// <param name="Succeeded">True when new roots are in force.</param>
/// <param name="Blocks">Blocks refreshed.</param>
/// <param name="FailedBlocks">Blocks that kept their previous roots.</param>
/// <param name="Detail">Human-readable reason of the first failure, or null.</param>
public readonly record struct RootRefreshResult(bool Succeeded, int Blocks, int FailedBlocks, string? Detail)
{
    /// <summary>The numbers of a single block's failure, when it failed (null otherwise, and for combined results).</summary>
    internal RootRefreshFailure? Failure { get; init; }

    /// <summary>Combines the results of several blocks.</summary>
    public static RootRefreshResult Combine(RootRefreshResult a, RootRefreshResult b) =>
        new(a.Succeeded && b.Succeeded, a.Blocks + b.Blocks, a.FailedBlocks + b.FailedBlocks, a.Detail ?? b.Detail);
}
