namespace ShampooMkl.Analysis.Experiments;

/// <summary>One cell of the experiment: compare H with an approximation built from a source.</summary>
/// <param name="Hessian">The target H.</param>
/// <param name="Source">The gradients the approximation is built from.</param>
/// <param name="Approximation">The approximation.</param>
public readonly record struct HessianCell(HessianKind Hessian, EstimateSource Source, ApproximationKind Approximation)
{
    /// <summary>Stable series key, e.g. <c>gn/batch-sampled/shampoo2</c>.</summary>
    public string Key => $"{HessianGrid.Name(Hessian)}/{Source.Name}/{HessianGrid.Name(Approximation)}";
}
