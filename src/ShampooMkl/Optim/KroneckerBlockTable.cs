using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>One Kronecker block of the model.</summary>
/// <param name="Parameter">Index of its parameter in the optimizer's order.</param>
/// <param name="Block">Index of the block within its parameter (layout order).</param>
/// <param name="Area">Where the block lies in the parameter's matrix view.</param>
/// <param name="Cost">m³ + n³, the cost of its roots (<see cref="BlockOwnership.InverseRootCost"/>).</param>
/// <param name="Owner">The rank that accumulates, refreshes and preconditions it (0 when not distributed).</param>
/// <param name="DirectionBytes">Bytes of its part of the direction, as exchanged between ranks.</param>
internal readonly record struct KroneckerBlock(int Parameter, int Block, MatrixBlock Area, double Cost, int Owner, int DirectionBytes);

/// <summary>Every Kronecker block of a <see cref="Shampoo"/> optimizer, built once in its constructor: blocks are
/// numbered globally, parameter by parameter in the optimizer's order, each parameter's blocks in layout order.</summary>
/// <remarks>Every rank derives the same table (numbering, owners, threaded flags) from the shapes alone, so none of it is
/// ever communicated. <see cref="Shampoo"/>, <see cref="BlockPlacement"/> and the refresh read it instead of rebuilding
/// their own mappings.</remarks>
internal sealed class KroneckerBlockTable
{
    private readonly KroneckerBlock[] blocks;
    private readonly int[] firstBlock;
    private readonly int[] blockCount;
    private readonly bool[] threaded;
    private int threadedFor;

    public KroneckerBlockTable(IReadOnlyList<ShampooParameterState> states, int rankCount, RefreshPolicy policy)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rankCount, 1);
        Policy = policy;
        firstBlock = new int[states.Count];
        blockCount = new int[states.Count];
        var total = 0;
        for (var s = 0; s < states.Count; s++)
        {
            firstBlock[s] = total;
            blockCount[s] = states[s].BlockCount;
            total += blockCount[s];
        }

        blocks = new KroneckerBlock[total];
        var costs = new double[total];
        for (var s = 0; s < states.Count; s++)
        {
            for (var b = 0; b < blockCount[s]; b++)
            {
                var area = states[s].BlockArea(b);
                costs[firstBlock[s] + b] = BlockOwnership.InverseRootCost(area.Rows, area.Cols);
            }
        }

        Ownership = rankCount > 1 ? BlockOwnership.Assign(costs, rankCount) : null;
        for (var s = 0; s < states.Count; s++)
        {
            for (var b = 0; b < blockCount[s]; b++)
            {
                var g = firstBlock[s] + b;
                blocks[g] = new KroneckerBlock(s, b, states[s].BlockArea(b), costs[g], Ownership?.OwnerOf(g) ?? 0, states[s].DirectionBlockBytes(b));
            }
        }

        threaded = new bool[total];
    }

    /// <summary>The shapes of every block, for a <see cref="RefreshPolicy"/> over the whole model.</summary>
    public static IEnumerable<(int Rows, int Cols)> ShapesOf(IReadOnlyList<ShampooParameterState> states) =>
        states.SelectMany(s => Enumerable.Range(0, s.BlockCount).Select(b => (s.BlockArea(b).Rows, s.BlockArea(b).Cols)));

    /// <summary>Blocks of the whole model.</summary>
    public int Count => blocks.Length;

    /// <summary>Owners of the blocks; null when not distributed.</summary>
    public BlockOwnership? Ownership { get; }

    /// <summary>The dominance rule the threaded flags come from.</summary>
    public RefreshPolicy Policy { get; }

    /// <summary>Block <paramref name="index"/> (global numbering).</summary>
    public ref readonly KroneckerBlock this[int index] => ref blocks[index];

    /// <summary>The global number of parameter <paramref name="parameter"/>'s first block.</summary>
    public int FirstBlock(int parameter) => firstBlock[parameter];

    /// <summary>Blocks of parameter <paramref name="parameter"/> (0 for a vector).</summary>
    public int BlockCount(int parameter) => blockCount[parameter];

    /// <summary>Whether block <paramref name="index"/> refreshes alone with every BLAS thread when BLAS has
    /// <paramref name="blasThreads"/> threads; computed for every block at once per thread count and cached.</summary>
    public bool IsThreaded(int index, int blasThreads)
    {
        if (blasThreads != threadedFor)
        {
            for (var g = 0; g < blocks.Length; g++)
            {
                threaded[g] = Policy.IsThreaded(blocks[g].Area.Rows, blocks[g].Area.Cols, blasThreads);
            }

            threadedFor = blasThreads;
        }

        return threaded[index];
    }
}
