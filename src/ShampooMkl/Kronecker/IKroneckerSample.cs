using ShampooMkl.Linalg;

namespace ShampooMkl.Kronecker;

/// <summary>A sample standing for H = Σ wᵢ gᵢgᵢᵀ (m·n×m·n, never formed), seen through the products the optimal-Kronecker power iteration needs.</summary>
/// <remarks>
/// With the rearrangement R(H) of docs/design.md, 'Conventions': <see cref="Apply"/> is one pass's pair of products R(H) vec(B) and
/// R(H)ᵀ vec(A), and <see cref="InnerProduct"/> is vec(A)ᵀ R(H) vec(B). Matrices are fp64, row-major, A m×m and B n×n.
/// <see cref="GradientSample{T}"/> implements it from dense per-example gradients; a caller may implement it for a
/// cheaper representation (e.g. rank-one gradients kept as factors) and still use
/// <see cref="OptimalKroneckerApproximation.Compute(IKroneckerSample, PowerIterationOptions?, BlasBackend?)"/>.
/// </remarks>
public interface IKroneckerSample
{
    /// <summary>m, rows of each gradient (A is m×m).</summary>
    int Rows { get; }

    /// <summary>n, columns of each gradient (B is n×n).</summary>
    int Cols { get; }

    /// <summary>nextA ← E[G B Gᵀ] = Σ wᵢ Gᵢ B Gᵢᵀ and nextB ← E[Gᵀ A G] = Σ wᵢ Gᵢᵀ A Gᵢ, both from the given pair, both
    /// written exactly symmetric. A and B are symmetric PSD (power iterates from a PSD start are).</summary>
    /// <exception cref="ArgumentException">A span of another length than m², n².</exception>
    void Apply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> nextA, Span<double> nextB, BlasBackend? blas);

    /// <summary>⟨H, A⊗B⟩_F = Σ wᵢ tr(Gᵢᵀ A Gᵢ Bᵀ).</summary>
    /// <exception cref="ArgumentException">A span of another length than m², n².</exception>
    double InnerProduct(ReadOnlySpan<double> a, ReadOnlySpan<double> b, BlasBackend? blas);
}
