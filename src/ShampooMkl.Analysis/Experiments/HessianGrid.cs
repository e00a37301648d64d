namespace ShampooMkl.Analysis.Experiments;

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
