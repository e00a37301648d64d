using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>An optimizer whose complete state <see cref="Checkpoint"/> can save to a file and restore bit for bit.</summary>
/// <remarks>
/// The state includes the parameter values (a checkpoint resumes training, not just the optimizer) but not the
/// gradients, which the next backward pass overwrites. <see cref="IOptimizer.Statistics"/> is saved by
/// <see cref="Checkpoint"/> alongside, not through <see cref="ExportState"/>, so that comparing two exports compares
/// only what determines the trajectory.
/// </remarks>
public interface ICheckpointable : IOptimizer
{
    /// <summary>The optimizer's kind (e.g. "Shampoo"); a checkpoint only loads into the same kind.</summary>
    string CheckpointKind { get; }

    /// <summary>One line per parameter: name, shape, group and the options that give its state a meaning.
    /// A checkpoint only loads into an optimizer with the same lines; the other options (schedule, weight decay, …) may
    /// differ and the live optimizer's values are used. The base learning rates are state, not options: they are
    /// restored.</summary>
    IReadOnlyList<string> CheckpointSignature { get; }

    /// <summary>All options as text, stored in the checkpoint header for people reading it.</summary>
    string DescribeOptions();

    /// <summary>A copy of the complete state: step count, parameter values and every per-parameter state tensor.</summary>
    IReadOnlyList<StateTensor> ExportState();

    /// <summary>Replaces the state with an exported one. Everything is checked first (names, shapes, finiteness,
    /// ranges); if anything is wrong nothing changes.</summary>
    /// <exception cref="InvalidDataException">The state does not fit this optimizer or holds invalid values.</exception>
    void ImportState(IReadOnlyList<StateTensor> state);
}
