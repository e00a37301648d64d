using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>What a checkpoint file holds, as read by <see cref="Checkpoint.Read(string)"/> or <see cref="Checkpoint.Read(Stream)"/>.</summary>
/// <param name="Kind">The optimizer kind (<see cref="ICheckpointable.CheckpointKind"/>).</param>
/// <param name="Signature">The optimizer's <see cref="ICheckpointable.CheckpointSignature"/> when it was saved.</param>
/// <param name="Options">The options as text, for people.</param>
/// <param name="Statistics">The counters and log at save time.</param>
/// <param name="Tensors">The complete state, <see cref="ICheckpointable.ExportState"/>'s list.</param>
public sealed record CheckpointContents(
    string Kind, IReadOnlyList<string> Signature, string Options, OptimizerStatistics Statistics, IReadOnlyList<StateTensor> Tensors);
