namespace ShampooMkl.Analysis.Experiments;

/// <summary>The matrix H that the approximations are compared with.</summary>
public enum HessianKind
{
    /// <summary>H_Ada = (1/N) Σ gᵢgᵢᵀ over true-label per-example gradients at the current weights.</summary>
    Adagrad,

    /// <summary>H_GN = the exact (class-weighted) Fisher = Gauss–Newton of softmax cross-entropy.</summary>
    GaussNewton,
}

/// <summary>The Kronecker-factored approximations compared with H.</summary>
public enum ApproximationKind
{
    /// <summary>argmin ‖Ĥ − A⊗B‖_F by power iteration, Ĥ the source sample's H.</summary>
    Optimal,

    /// <summary>L ⊗ R / Tr, the first power-iteration step (this paper).</summary>
    ShampooSquared,

    /// <summary>L^{1/2} ⊗ R^{1/2} (Gupta et al. 2018).</summary>
    Shampoo,

    /// <summary>E[δδᵀ] ⊗ E[aaᵀ]; needs per-example δ and a, so only for per-example sources.</summary>
    KFac,
}

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

/// <summary>One cell of the experiment: compare H with an approximation built from a source.</summary>
/// <param name="Hessian">The target H.</param>
/// <param name="Source">The gradients the approximation is built from.</param>
/// <param name="Approximation">The approximation.</param>
public readonly record struct HessianCell(HessianKind Hessian, EstimateSource Source, ApproximationKind Approximation)
{
    /// <summary>Stable series key, e.g. <c>gn/batch-sampled/shampoo2</c>.</summary>
    public string Key => $"{HessianGrid.Name(Hessian)}/{Source.Name}/{HessianGrid.Name(Approximation)}";
}

/// <summary>The experiment grid: which approximation, from which gradients, is compared with which H (REPRODUCTION.md tabulates it).</summary>
/// <remarks>
/// For each H the first source is H's own sample (the paper's Figure 1 setting: approximations of exactly the matrix
/// that is measured). The others are the paper's practical tricks, evaluated against the same H:
/// Adagrad — mini-batch gradients (what Shampoo actually accumulates), finite and in expectation;
/// Gauss–Newton — one sampled label per example, true labels (empirical Fisher), and mini-batch gradients with sampled
/// or true labels, finite and in expectation. K-FAC needs per-example δ and a, so it appears only with per-example sources.
/// </remarks>
public static class HessianGrid
{
    /// <summary>The sources compared with each H, H's own sample first.</summary>
    public static IReadOnlyList<EstimateSource> SourcesOf(HessianKind hessian) => hessian switch
    {
        HessianKind.Adagrad =>
        [
            new(LabelMode.True, GradientKind.PerExample), new(LabelMode.True, GradientKind.Batch), new(LabelMode.True, GradientKind.ExpectedBatch),
        ],
        HessianKind.GaussNewton =>
        [
            new(LabelMode.Exact, GradientKind.PerExample), new(LabelMode.Sampled, GradientKind.PerExample), new(LabelMode.True, GradientKind.PerExample),
            new(LabelMode.Sampled, GradientKind.Batch), new(LabelMode.True, GradientKind.Batch),
            new(LabelMode.Sampled, GradientKind.ExpectedBatch), new(LabelMode.True, GradientKind.ExpectedBatch),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(hessian), hessian, "Unknown Hessian."),
    };

    /// <summary>The approximations built from a source.</summary>
    public static IReadOnlyList<ApproximationKind> ApproximationsOf(EstimateSource source) => source.Gradients != GradientKind.PerExample
        ? [ApproximationKind.Optimal, ApproximationKind.ShampooSquared, ApproximationKind.Shampoo]
        : [ApproximationKind.Optimal, ApproximationKind.ShampooSquared, ApproximationKind.Shampoo, ApproximationKind.KFac];

    /// <summary>Every cell, in a fixed order (H, then source, then approximation).</summary>
    public static IReadOnlyList<HessianCell> Cells { get; } =
    [
        .. Enum.GetValues<HessianKind>().SelectMany(h => SourcesOf(h).SelectMany(s => ApproximationsOf(s).Select(a => new HessianCell(h, s, a)))),
    ];

    /// <summary>The distinct sources of the whole grid, each computed once per measurement.</summary>
    public static IReadOnlyList<EstimateSource> Sources { get; } = [.. Cells.Select(c => c.Source).Distinct()];

    /// <summary>The sample that defines H.</summary>
    public static EstimateSource TargetOf(HessianKind hessian) => SourcesOf(hessian)[0];

    /// <summary>Short name: adagrad, gn.</summary>
    public static string Name(HessianKind hessian) => hessian == HessianKind.Adagrad ? "adagrad" : "gn";

    /// <summary>Short name: optimal, shampoo2, shampoo, kfac.</summary>
    public static string Name(ApproximationKind approximation) => approximation switch
    {
        ApproximationKind.Optimal => "optimal",
        ApproximationKind.ShampooSquared => "shampoo2",
        ApproximationKind.Shampoo => "shampoo",
        _ => "kfac",
    };

    /// <summary>Display name: Optimal Kronecker, Shampoo², Shampoo, K-FAC.</summary>
    public static string Title(ApproximationKind approximation) => approximation switch
    {
        ApproximationKind.Optimal => "Optimal Kronecker",
        ApproximationKind.ShampooSquared => "Shampoo²",
        ApproximationKind.Shampoo => "Shampoo",
        _ => "K-FAC",
    };

    /// <summary>Display name: Adagrad, Gauss–Newton.</summary>
    public static string Title(HessianKind hessian) => hessian == HessianKind.Adagrad ? "Adagrad" : "Gauss–Newton";
}
