namespace ShampooMkl.Analysis.Experiments;

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
