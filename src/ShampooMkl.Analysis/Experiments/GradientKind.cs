namespace ShampooMkl.Analysis.Experiments;

/// <summary>Per-example gradients or one of the two mini-batch estimators built from them.</summary>
public enum GradientKind
{
    /// <summary>Each example's own gradient.</summary>
    PerExample,

    /// <summary>Sums of K = ⌈N/B⌉ consecutive mini-batches of the N examples (<see cref="HessianEstimates.Batched"/>): what a Shampoo step sees.</summary>
    Batch,

    /// <summary>The mini-batch estimator's expectation over random partitions into batches of B (<see cref="HessianEstimates.ExpectedBatched"/>): many batches, no sampling noise.</summary>
    ExpectedBatch,
}
