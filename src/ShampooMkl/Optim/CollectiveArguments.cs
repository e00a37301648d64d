namespace ShampooMkl.Optim;

/// <summary>Argument checks shared by every communicator, so a single-process run rejects what MPI would.</summary>
/// <remarks>They run before any communication and allocate only when they throw.</remarks>
internal static class CollectiveArguments
{
    public static void CheckRoot(int root, int size)
    {
        if ((uint)root >= (uint)size)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, $"The root must be a rank in [0, {size}).");
        }
    }

    public static void CheckGather(int rank, int size, int sendLength, int receiveLength, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
    {
        if (counts.Length != size)
        {
            throw new ArgumentException($"counts has {counts.Length} entries; expected one per rank ({size}).", nameof(counts));
        }

        if (displacements.Length != size)
        {
            throw new ArgumentException($"displacements has {displacements.Length} entries; expected one per rank ({size}).", nameof(displacements));
        }

        for (var r = 0; r < size; r++)
        {
            if (counts[r] < 0 || displacements[r] < 0)
            {
                throw new ArgumentException($"Rank {r} has count {counts[r]} and displacement {displacements[r]}; neither may be negative.", nameof(counts));
            }

            if ((long)displacements[r] + counts[r] > receiveLength)
            {
                throw new ArgumentException(
                    $"Rank {r}'s elements [{displacements[r]}, {(long)displacements[r] + counts[r]}) do not fit in a receive span of {receiveLength}.",
                    nameof(displacements));
            }
        }

        if (sendLength != counts[rank])
        {
            throw new ArgumentException($"The send span has {sendLength} elements but counts[{rank}] (this rank) is {counts[rank]}.", "send");
        }
    }
}
