namespace ShampooMkl.Analysis.Training;

/// <summary>The order in which an epoch visits the training examples: a pure function of (seed, epoch).</summary>
/// <remarks>
/// Resuming from a checkpoint must replay exactly the batches an uninterrupted run would have seen, so the
/// permutation may not depend on a generator that has been advanced by earlier epochs. Each epoch therefore
/// gets its own <see cref="Random"/>, seeded by mixing the run seed with the epoch number (SplitMix64's
/// finaliser, because <see cref="HashCode"/> is randomised per process).
/// </remarks>
public static class EpochOrder
{
    /// <summary>Writes a permutation of 0…<paramref name="order"/>.Length−1 for <paramref name="epoch"/> (1-based) into <paramref name="order"/>.</summary>
    public static void Fill(Span<int> order, int seed, int epoch)
    {
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var random = new Random(EpochSeed(seed, epoch));
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    /// <summary>The permutation of <paramref name="count"/> examples for <paramref name="epoch"/>.</summary>
    public static int[] Create(int count, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        Fill(order, seed, epoch);
        return order;
    }

    /// <summary>The generator seed of one epoch.</summary>
    public static int EpochSeed(int seed, int epoch)
    {
        var z = unchecked(((ulong)(uint)seed << 32) | (uint)epoch) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return unchecked((int)(uint)z);
    }
}
