namespace ShampooMkl.Analysis.Training;

/// <summary>What a checkpoint must match to be resumed: a checkpoint of another run would silently train something else.</summary>
/// <param name="Model">Model name.</param>
/// <param name="Optimizer">Optimizer name.</param>
/// <param name="BatchSize">Batch size (changes the steps per epoch and so the data order).</param>
/// <param name="Seed">Data-order seed.</param>
/// <param name="TrainExamples">Size of the training set.</param>
/// <param name="Parameters">Names and shapes of the parameters.</param>
public sealed record CheckpointFingerprint(string Model, string Optimizer, int BatchSize, int Seed, int TrainExamples, string Parameters);
