using ShampooMkl.Linalg;

namespace ShampooMkl.Kronecker;

/// <summary>The path and buffer sizes <see cref="KroneckerSimilarity.ComputeHNorm{T}(GradientSample{T}, BlasBackend?)"/>
/// uses for N gradients of length m·n; a pure function of the sizes, so tests can check the memory without running it.</summary>
/// <param name="Path">Gram blocks or H itself.</param>
/// <param name="BlockExamples">Examples per Gram block (b), or per promoted chunk on the covariance path.</param>
/// <param name="ChunkColumns">Columns (of the m·n) per promoted tile on the Gram path; m·n on the covariance path.</param>
/// <param name="WorkspaceBytes">Bytes of every buffer the computation allocates (tiles, the b×b block or H).</param>
internal readonly record struct HNormPlan(HNormPath Path, int BlockExamples, int ChunkColumns, long WorkspaceBytes)
{
    /// <summary>Examples per Gram block by default: a 1024×1024 block is 8 MB.</summary>
    public const int DefaultBlockExamples = 1024;

    /// <summary>Largest H (in doubles, 256 MB) the covariance path forms; beyond it the blocked Gram is used even when m·n &lt; N.</summary>
    public const long MaxCovarianceElements = 1L << 25;

    /// <summary>Elements of one promoted tile (32 MB of doubles).</summary>
    public const int TileElements = GradientChunks<double>.DefaultChunkElements;

    /// <summary>The plan for <paramref name="count"/> gradients of <paramref name="length"/> elements.</summary>
    /// <param name="count">N ≥ 1.</param>
    /// <param name="length">m·n ≥ 1.</param>
    /// <param name="chunkColumns">Tile width on the Gram path, or 0 for the default (tests).</param>
    /// <param name="blockExamples">Gram block size, or 0 for the default (tests).</param>
    /// <param name="path">The path, or null to choose: H itself when m·n &lt; N and H fits <see cref="MaxCovarianceElements"/>.</param>
    public static HNormPlan For(int count, int length, int chunkColumns = 0, int blockExamples = 0, HNormPath? path = null)
    {
        var chosen = path ?? (length < count && (long)length * length <= MaxCovarianceElements ? HNormPath.Covariance : HNormPath.BlockedGram);
        if (chosen == HNormPath.Covariance)
        {
            var chunk = Math.Clamp(TileElements / length, 1, count);
            return new HNormPlan(chosen, chunk, length, sizeof(double) * (((long)length * length) + ((long)chunk * length)));
        }

        var block = Math.Min(count, blockExamples > 0 ? blockExamples : DefaultBlockExamples);
        var width = chunkColumns > 0 ? Math.Min(chunkColumns, length) : Math.Clamp(TileElements / block, 1, length);
        // Two tiles (block I and block J) and the b×b block of the Gram matrix; one tile when there is one block.
        var tiles = block == count ? 1 : 2;
        return new HNormPlan(chosen, block, width, sizeof(double) * (((long)tiles * block * width) + ((long)block * block)));
    }
}
