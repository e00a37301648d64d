namespace ShampooMkl.Analysis.Training;

/// <summary>The JSON index of a checkpoint folder: which epoch folder is current and the records so far.</summary>
/// <param name="FormatVersion">Layout version of the folder.</param>
/// <param name="Fingerprint">The run it belongs to.</param>
/// <param name="EpochFolder">Sub-folder holding the parameters and the optimizer state.</param>
/// <param name="Epochs">Records of the completed epochs.</param>
public sealed record TrainingCheckpointState(int FormatVersion, CheckpointFingerprint Fingerprint, string EpochFolder, IReadOnlyList<EpochRecord> Epochs);
