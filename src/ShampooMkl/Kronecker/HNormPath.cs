using ShampooMkl.Linalg;

namespace ShampooMkl.Kronecker;

/// <summary>How <see cref="KroneckerSimilarity.ComputeHNorm{T}(GradientSample{T}, BlasBackend?)"/> forms ‖H‖_F.</summary>
internal enum HNormPath
{
    /// <summary>‖H‖² = Σᵢⱼ wᵢwⱼ⟨Gᵢ, Gⱼ⟩², the Gram matrix of the gradients computed in square blocks of examples
    /// (N²·m·n flops, memory bounded by the blocks whatever N).</summary>
    BlockedGram,

    /// <summary>‖H‖² = Σ H_kl² with H = Σ wᵢ gᵢgᵢᵀ formed itself (N·(m·n)² flops, (m·n)² doubles): the smaller of the two
    /// when m·n &lt; N.</summary>
    Covariance,
}
