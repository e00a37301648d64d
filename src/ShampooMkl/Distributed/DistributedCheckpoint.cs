using System.Runtime.ExceptionServices;
using ShampooMkl.Optim;

namespace ShampooMkl.Distributed;

/// <summary>Checkpoints of an optimizer trained on several ranks: one complete file, written once by rank 0, loadable with any rank count.</summary>
/// <remarks>
/// <para>Saving is collective. A <see cref="Shampoo"/> first gathers every block's state from its owner
/// (<see cref="Shampoo.GatherState"/>), so rank 0's file holds exactly what a single process's would; then rank 0
/// writes it (atomically, through <see cref="Checkpoint.Save(ICheckpointable, string)"/>: a temporary file renamed over the target) while the
/// others wait for its outcome. A rank that dies before or during the save stops the job before rank 0 renames
/// anything, so the previous checkpoint stays the only one under the real name.</para>
/// <para>Loading is collective too: every rank reads the complete file and keeps all of it (a rank simply never reads
/// the blocks it does not own), whatever the rank count that saved it; all ranks fail together if one cannot load.</para>
/// </remarks>
public static class DistributedCheckpoint
{
    /// <summary>Collective: gathers the state and has rank 0 write it to <paramref name="path"/>.</summary>
    /// <exception cref="IOException">Rank 0 could not write the file (on every rank; the previous file is unchanged).</exception>
    public static void Save(ICommunicator communicator, ICheckpointable optimizer, string path)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        SaveWith(communicator, optimizer, () => Checkpoint.Save(optimizer, path));
    }

    /// <summary>Collective: gathers the state, runs <paramref name="writeOnRankZero"/> on rank 0 only, and makes every
    /// rank throw if it failed (for checkpoints that hold more than the optimizer, e.g. a training folder).</summary>
    /// <exception cref="IOException">On the other ranks when rank 0's writer threw; rank 0 rethrows its own exception.</exception>
    public static void SaveWith(ICommunicator communicator, IOptimizer optimizer, Action writeOnRankZero)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(writeOnRankZero);
        (optimizer as Shampoo)?.GatherState();
        ExceptionDispatchInfo? failure = null;
        if (communicator.Rank == 0)
        {
            try
            {
                writeOnRankZero();
            }
            catch (Exception e)
            {
                // Whatever went wrong, the other ranks are waiting for the outcome below and must not hang.
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }

        var status = new[] { failure is null ? 0 : 1 };
        communicator.Broadcast<int>(status, 0);
        failure?.Throw();
        if (status[0] != 0)
        {
            throw new IOException("Rank 0 could not write the checkpoint (its error is in its output); the previous checkpoint is unchanged.");
        }
    }

    /// <summary>Collective: every rank loads the complete checkpoint at <paramref name="path"/>; if any rank cannot, all throw.</summary>
    /// <exception cref="InvalidDataException">Some rank could not load it (that rank's own reason, or a summary on the others).</exception>
    public static void Load(ICommunicator communicator, ICheckpointable optimizer, string path)
    {
        LoadWith(communicator, () => Checkpoint.Load(optimizer, path));
    }

    /// <summary>Collective: runs <paramref name="loadOnEveryRank"/> everywhere and agrees on the outcome.</summary>
    /// <remarks>Every rank takes part in the agreement whatever its loader throws, so a refusal on one rank never leaves
    /// the others waiting.</remarks>
    /// <exception cref="InvalidDataException">Another rank's loader threw.</exception>
    /// <exception cref="Exception">This rank's loader threw: its own exception, rethrown after the agreement.</exception>
    public static void LoadWith(ICommunicator communicator, Action loadOnEveryRank)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(loadOnEveryRank);
        ExceptionDispatchInfo? failure = null;
        try
        {
            loadOnEveryRank();
        }
        catch (Exception e)
        {
            // Whatever the loader threw (a corrupt file, a busy optimizer, a bug), the other ranks are waiting for the
            // outcome below and must learn of it now rather than at the MPI timeout.
            failure = ExceptionDispatchInfo.Capture(e);
        }

        var failed = new[] { failure is null ? 0.0 : 1.0 };
        communicator.AllReduceSum(failed);
        failure?.Throw();
        if (failed[0] != 0)
        {
            throw new InvalidDataException($"{failed[0]} rank(s) could not load the checkpoint (see their output); no rank continues from it.");
        }
    }
}
