using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Where <see cref="Shampoo"/>'s Kronecker blocks live across ranks, and the exchanges that keep the ranks in step.</summary>
/// <remarks>
/// Blocks are numbered globally: parameter by parameter in the optimizer's order, each parameter's blocks in layout
/// order. Every rank derives the same numbering and the same <see cref="BlockOwnership"/> from the shapes alone, so
/// no layout is ever communicated: a rank's part of a gather is its owned blocks in increasing global number, and
/// the ranks' parts follow each other in rank order. Without a communicator every method is a no-op and every
/// block is owned.
/// </remarks>
internal sealed class BlockPlacement
{
    private const string FailureFallback = "root computation failed";
    private const int SucceededCode = -1;
    private const int UnknownFailureCode = -2;

    private readonly ShampooParameterState[] states;
    private readonly ICommunicator? communicator;
    private readonly KroneckerBlockTable table;
    private readonly bool[] owned;
    private readonly int[] counts = [];
    private readonly int[] displacements = [];
    private readonly int[] cursors = [];
    private readonly byte[] send = [];
    private readonly byte[] receive = [];
    // Refresh outcomes: per block a code (SucceededCode, UnknownFailureCode or a RootRefreshFailure.Code) and an ε.
    private readonly int[] sentCodes = [];
    private readonly int[] receivedCodes = [];
    private readonly double[] sentEpsilons = [];
    private readonly double[] receivedEpsilons = [];
    private readonly int[] outcomePerRank = [];
    private readonly int[] outcomeStarts = [];
    private readonly int[] outcomeSeen = [];

    /// <summary>The placement of <paramref name="table"/>'s blocks over <paramref name="communicator"/> (null: every block here).</summary>
    /// <exception cref="NotSupportedException">More than 2 GiB of directions to exchange per step.</exception>
    public BlockPlacement(ShampooParameterState[] states, KroneckerBlockTable table, ICommunicator? communicator)
    {
        this.states = states;
        this.table = table;
        this.communicator = communicator;
        var total = table.Count;
        owned = new bool[total];
        if (communicator is null)
        {
            Array.Fill(owned, true);
            return;
        }

        Ownership = table.Ownership ?? throw new ArgumentException("The block table has no owners, but a communicator was given.", nameof(table));
        var ownedBytes = 0L;
        var allBytes = 0L;
        for (var g = 0; g < total; g++)
        {
            owned[g] = Ownership.OwnerOf(g) == communicator.Rank;
            var bytes = table[g].DirectionBytes;
            allBytes += bytes;
            ownedBytes += owned[g] ? bytes : 0;
        }

        if (allBytes > int.MaxValue)
        {
            throw new NotSupportedException(
                $"The directions of all blocks take {allBytes} bytes, more than one MPI gather carries (2 GiB); " +
                "use fp32 factors or fewer, smaller blocks per optimizer.");
        }

        counts = new int[communicator.Size];
        displacements = new int[communicator.Size];
        cursors = new int[communicator.Size];
        send = new byte[ownedBytes];
        receive = new byte[allBytes];
        sentCodes = new int[total];
        receivedCodes = new int[total];
        sentEpsilons = new double[total];
        receivedEpsilons = new double[total];
        outcomePerRank = new int[communicator.Size];
        outcomeStarts = new int[communicator.Size];
        outcomeSeen = new int[communicator.Size];
    }

    /// <summary>Whether blocks are shared over more than one rank.</summary>
    public bool IsDistributed => communicator is not null;

    /// <summary>The communicator, when distributed.</summary>
    public ICommunicator? Communicator => communicator;

    /// <summary>The owner of every block, when distributed.</summary>
    public BlockOwnership? Ownership { get; }

    /// <summary>Which of parameter <paramref name="state"/>'s blocks this rank owns; empty (meaning all) when not distributed.</summary>
    public ReadOnlySpan<bool> OwnedBlocks(int state) =>
        communicator is null ? default : owned.AsSpan(table.FirstBlock(state), table.BlockCount(state));

    /// <summary>Whether this rank owns block <paramref name="block"/> (global numbering).</summary>
    public bool Owns(int block) => owned[block];

    /// <summary>Collective: every rank receives the direction of every block of the parameters being preconditioned.</summary>
    /// <remarks>Allocates nothing: the buffers hold every block's bytes and were sized at construction.</remarks>
    public void ExchangeDirections(ReadOnlySpan<bool> preconditioning)
    {
        if (communicator is null)
        {
            return;
        }

        counts.AsSpan().Clear();
        for (var g = 0; g < table.Count; g++)
        {
            var (s, b) = (table[g].Parameter, table[g].Block);
            if (preconditioning[s])
            {
                counts[table[g].Owner] += table[g].DirectionBytes;
            }
        }

        var total = Prefix(counts, displacements);
        if (total == 0)
        {
            // Same shapes and steps everywhere, so every rank skips the gather together.
            return;
        }

        var offset = 0;
        for (var g = 0; g < table.Count; g++)
        {
            var (s, b) = (table[g].Parameter, table[g].Block);
            if (preconditioning[s] && owned[g])
            {
                var bytes = table[g].DirectionBytes;
                states[s].ReadDirectionBlock(b, send.AsSpan(offset, bytes));
                offset += bytes;
            }
        }

        communicator.AllGatherV<byte>(send.AsSpan(0, offset), receive.AsSpan(0, total), counts, displacements);
        displacements.CopyTo(cursors, 0);
        for (var g = 0; g < table.Count; g++)
        {
            var (s, b) = (table[g].Parameter, table[g].Block);
            if (!preconditioning[s])
            {
                continue;
            }

            var owner = table[g].Owner;
            var bytes = table[g].DirectionBytes;
            if (!owned[g])
            {
                states[s].WriteDirectionBlock(b, receive.AsSpan(cursors[owner], bytes));
            }

            cursors[owner] += bytes;
        }
    }

    /// <summary>Collective: replaces the results of the refreshed blocks this rank does not own with their owners'.</summary>
    /// <param name="queue">The blocks refreshed this step (global numbers), the same on every rank.</param>
    /// <param name="results">Per queue entry; this rank's own entries are filled in, the others are overwritten.</param>
    /// <remarks>Outcomes travel as numbers (one status code per block, then, only when a block failed, one ε per block)
    /// in buffers sized at construction; the failure's text is formatted on every rank from those numbers, so every rank
    /// logs the same text and a step without failures allocates nothing.</remarks>
    public void ExchangeRefreshResults(ReadOnlySpan<int> queue, RootRefreshResult[] results)
    {
        if (communicator is null)
        {
            return;
        }

        var entries = queue.Length;
        var mine = 0;
        outcomePerRank.AsSpan().Clear();
        for (var i = 0; i < entries; i++)
        {
            var g = queue[i];
            outcomePerRank[table[g].Owner]++;
            if (owned[g])
            {
                var r = results[i];
                sentCodes[mine] = r.Succeeded ? SucceededCode : r.Failure?.Code ?? UnknownFailureCode;
                sentEpsilons[mine] = r.Failure?.Epsilon ?? 0;
                mine++;
            }
        }

        Prefix(outcomePerRank, outcomeStarts);
        communicator.AllGatherV<int>(sentCodes.AsSpan(0, mine), receivedCodes.AsSpan(0, entries), outcomePerRank, outcomeStarts);
        var failures = false;
        for (var i = 0; i < entries; i++)
        {
            failures |= receivedCodes[i] != SucceededCode;
        }

        if (failures)
        {
            communicator.AllGatherV<double>(sentEpsilons.AsSpan(0, mine), receivedEpsilons.AsSpan(0, entries), outcomePerRank, outcomeStarts);
        }

        outcomeSeen.AsSpan().Clear();
        for (var i = 0; i < entries; i++)
        {
            var g = queue[i];
            var owner = table[g].Owner;
            var at = outcomeStarts[owner] + outcomeSeen[owner]++;
            var code = receivedCodes[at];
            if (code == SucceededCode)
            {
                results[i] = new RootRefreshResult(true, 1, 0, null);
            }
            else if (code == UnknownFailureCode)
            {
                results[i] = new RootRefreshResult(false, 1, 1, FailureFallback);
            }
            else if (!owned[g])
            {
                var area = table[g].Area;
                results[i] = RootRefreshFailure.FromCode(area.Rows, area.Cols, code, receivedEpsilons[at]).ToResult();
            }
        }
    }

    /// <summary>Collective: every block's state is broadcast from its owner and imported by every other rank.</summary>
    public void GatherBlockStates()
    {
        if (communicator is null)
        {
            return;
        }

        for (var g = 0; g < table.Count; g++)
        {
            var (s, b) = (table[g].Parameter, table[g].Block);
            var owner = table[g].Owner;
            // The local export fixes the tensors' names and order; only the owner's lengths and values count (an
            // eigenbasis is empty until the first warm-started refresh, so lengths can differ between ranks).
            var local = states[s].ExportBlock(b);
            var lengths = new int[local.Count];
            var total = 0;
            if (owned[g])
            {
                for (var t = 0; t < local.Count; t++)
                {
                    lengths[t] = local[t].Data.Length;
                    total += lengths[t];
                }
            }

            communicator.Broadcast<int>(lengths, owner);
            if (!owned[g])
            {
                total = lengths.Sum();
            }

            var values = new double[total];
            if (owned[g])
            {
                var at = 0;
                foreach (var t in local)
                {
                    t.Data.CopyTo(values, at);
                    at += t.Data.Length;
                }
            }

            communicator.Broadcast<double>(values, owner);
            if (owned[g])
            {
                continue;
            }

            var received = new List<StateTensor>(local.Count);
            var offset = 0;
            for (var t = 0; t < local.Count; t++)
            {
                var template = local[t];
                var shape = lengths[t] == template.Data.Length ? template.Shape : [lengths[t]];
                received.Add(new StateTensor(template.Name, shape, values.AsSpan(offset, lengths[t]).ToArray()));
                offset += lengths[t];
            }

            states[s].ImportBlock(b, received);
        }
    }

    /// <summary>Exclusive prefix sums of <paramref name="counts"/> into <paramref name="starts"/>; returns the total.</summary>
    private static int Prefix(ReadOnlySpan<int> counts, Span<int> starts)
    {
        var total = 0;
        for (var r = 0; r < counts.Length; r++)
        {
            starts[r] = total;
            total += counts[r];
        }

        return total;
    }
}
