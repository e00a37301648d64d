namespace ShampooMkl.Analysis.Training;

/// <summary>The JSON index of a checkpoint folder: which epoch folder is current, the records so far, and the digests
/// that bind the index to that folder's files.</summary>
/// <param name="FormatVersion">Layout version of the folder.</param>
/// <param name="Fingerprint">The run it belongs to.</param>
/// <param name="EpochFolder">Sub-folder holding the parameters and the optimizer state: always <c>epoch-NNNN</c> of the last
/// record, directly inside the checkpoint folder.</param>
/// <param name="Epochs">Records of the completed epochs, numbered 1, 2, … without gaps.</param>
/// <param name="Files">Every file of <paramref name="EpochFolder"/>, with its length and SHA-256.</param>
/// <param name="Sha256">SHA-256 of this index written with an empty <paramref name="Sha256"/>: an edited index is refused.</param>
public sealed record TrainingCheckpointState(
    int FormatVersion,
    CheckpointFingerprint Fingerprint,
    string EpochFolder,
    IReadOnlyList<EpochRecord> Epochs,
    IReadOnlyList<CheckpointFile> Files,
    string Sha256);
