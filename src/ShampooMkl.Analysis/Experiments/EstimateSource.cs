namespace ShampooMkl.Analysis.Experiments;

/// <summary>Where an approximation's statistics come from: which labels, and per-example or mini-batch gradients.</summary>
/// <param name="Labels">The labels of the gradients.</param>
/// <param name="Gradients">Per-example gradients or a mini-batch estimator.</param>
public readonly record struct EstimateSource(LabelMode Labels, GradientKind Gradients)
{
    /// <summary>Short stable name used in JSON, CSV and legends, e.g. <c>sampled</c>, <c>batch-true</c>, <c>batch-true-expected</c>.</summary>
    public string Name
    {
        get
        {
            var labels = Labels switch
            {
                LabelMode.True => "true",
                LabelMode.Sampled => "sampled",
                _ => "exact",
            };
            return Gradients switch
            {
                GradientKind.Batch => $"batch-{labels}",
                GradientKind.ExpectedBatch => $"batch-{labels}-expected",
                _ => labels,
            };
        }
    }

    /// <summary>A phrase for tables and legends.</summary>
    public string Description
    {
        get
        {
            var labels = Labels switch
            {
                LabelMode.True => "true labels",
                LabelMode.Sampled => "sampled labels",
                _ => "exact (all classes, p-weighted)",
            };
            return Gradients switch
            {
                GradientKind.Batch => $"batch sums, {labels}",
                GradientKind.ExpectedBatch => $"expected batch, {labels}",
                _ => $"per-example, {labels}",
            };
        }
    }
}
