using ShampooMkl.Linalg;

namespace ShampooMkl.Preconditioning;

/// <summary>The mathematics of one Shampoo block: which root, which ε, which statistics.</summary>
/// <remarks>
/// The direction is s · L^{-1/p} · G · R^{-1/p}. Classic Shampoo (Gupta et al.) is p = 4 with s = 1.
/// Shampoo² (Morwani et al.) approximates H by L⊗R / Tr(H), whose inverse square root is
/// √Tr(H) · L^{-1/2} ⊗ R^{-1/2}: p = 2 with <see cref="TraceNormalized"/>. In general the trace-normalised
/// approximation (L⊗R / Tr H)^{2/p} gives s = Tr(H)^{1/p}.
/// </remarks>
public sealed record ShampooPreconditionerOptions
{
    /// <summary>Classic Shampoo: L^{-1/4} G R^{-1/4}.</summary>
    public static ShampooPreconditionerOptions Shampoo { get; } = new();

    /// <summary>Shampoo²: √Tr(H) · L^{-1/2} G R^{-1/2}.</summary>
    public static ShampooPreconditionerOptions ShampooSquared { get; } = new() { Root = 2, TraceNormalized = true };

    /// <summary>The root p in L^{-1/p}; any positive number (4 = Shampoo, 2 = Shampoo²).</summary>
    public double Root { get; init; } = 4;

    /// <summary>Whether to scale by Tr(H)^{1/p}, i.e. approximate H by (L⊗R / Tr H)^{2/p}.</summary>
    public bool TraceNormalized { get; init; }

    /// <summary>ε added to the (clamped) eigenvalues of each factor before the root (Distributed Shampoo's default).</summary>
    public double Epsilon { get; init; } = 1e-12;

    /// <summary>β₂ for the statistics; 1 keeps sums (Adagrad-style).</summary>
    public double Beta2 { get; init; } = 1.0;

    /// <summary>Divide EMA statistics by 1 − β₂ᵗ before taking roots.</summary>
    public bool BiasCorrection { get; init; } = true;

    /// <summary>How each factor's root is computed: full eigendecomposition (the default), a warm start from the
    /// previous eigenbasis, or the coupled Newton iteration (integer <see cref="Root"/> only).</summary>
    public InverseRootMethod RootMethod { get; init; } = InverseRootMethod.Eigendecomposition;

    /// <summary>With a warm start, every K-th refresh is still a full <c>syevd</c>, to stop drift.</summary>
    public int FullEigendecompositionEvery { get; init; } = 10;

    /// <summary>Factor by which a block's ε grows after a failed root computation.</summary>
    public double EpsilonGrowthOnFailure { get; init; } = 10;

    /// <summary>Throws with a clear message when a value is out of range.</summary>
    public void Validate()
    {
        if (!(Root > 0) || double.IsInfinity(Root))
        {
            throw new ArgumentOutOfRangeException(nameof(Root), Root, "The root p must be positive and finite.");
        }

        if (!Enum.IsDefined(RootMethod))
        {
            throw new ArgumentOutOfRangeException(nameof(RootMethod), RootMethod, "Unknown root method.");
        }

        if (RootMethod == InverseRootMethod.CoupledNewton && Root != Math.Floor(Root))
        {
            throw new ArgumentOutOfRangeException(nameof(Root), Root, "The coupled Newton root method needs an integer root p.");
        }

        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be non-negative and finite.");
        }

        if (!(Beta2 > 0 && Beta2 <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β₂ must be in (0, 1].");
        }

        if (FullEigendecompositionEvery < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(FullEigendecompositionEvery), FullEigendecompositionEvery, "Must be at least 1.");
        }

        if (!(EpsilonGrowthOnFailure >= 1) || double.IsInfinity(EpsilonGrowthOnFailure))
        {
            throw new ArgumentOutOfRangeException(nameof(EpsilonGrowthOnFailure), EpsilonGrowthOnFailure, "Must be ≥ 1 and finite.");
        }
    }
}
