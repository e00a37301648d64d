namespace ShampooMkl.Analysis.Experiments;

/// <summary>The matrix H that the approximations are compared with.</summary>
public enum HessianKind
{
    /// <summary>H_Ada = (1/N) Σ gᵢgᵢᵀ over true-label per-example gradients at the current weights.</summary>
    Adagrad,

    /// <summary>H_GN = the exact (class-weighted) Fisher = Gauss–Newton of softmax cross-entropy.</summary>
    GaussNewton,
}
