using ShampooMkl.Linalg;

namespace ShampooMkl.Kronecker;

/// <summary>Result of <see cref="OptimalKroneckerApproximation.Compute{T}(GradientSample{T}, PowerIterationOptions?, BlasBackend?)"/>.</summary>
public sealed class OptimalKroneckerResult
{
    internal OptimalKroneckerResult(KroneckerPair unit, double scale, int iterations, double change, bool converged, double[] history)
    {
        Unit = unit;
        Scale = scale;
        Iterations = iterations;
        RelativeChange = change;
        Converged = converged;
        ChangeHistory = history;
        Approximation = unit.Scaled(Math.Max(scale, 0));
    }

    /// <summary>The last iterate (A, B), each with unit Frobenius norm.</summary>
    public KroneckerPair Unit { get; }

    /// <summary>σ = ⟨H, A⊗B⟩ / (‖A‖²‖B‖²) for the unit pair, i.e. the best scale and the estimate of R(H)'s top singular value.</summary>
    public double Scale { get; }

    /// <summary>σ·A ⊗ B, the approximation of H, with √σ folded into each factor.</summary>
    public KroneckerPair Approximation { get; }

    /// <summary>Passes made.</summary>
    public int Iterations { get; }

    /// <summary>‖A_T − A_{T−1}‖_F + ‖B_T − B_{T−1}‖_F of the last pass.</summary>
    public double RelativeChange { get; }

    /// <summary>Whether <see cref="RelativeChange"/> reached the tolerance before the iteration cap.</summary>
    public bool Converged { get; }

    /// <summary>The change of every pass, in order.</summary>
    public IReadOnlyList<double> ChangeHistory { get; }

    /// <summary>cos(H, A⊗B) = σ/‖H‖_F, given ‖H‖_F from <see cref="KroneckerSimilarity.ComputeHNorm{T}(GradientSample{T}, BlasBackend?)"/>.</summary>
    public double Cosine(double hNorm) => Scale / hNorm;

    /// <summary>‖H − σA⊗B‖_F / ‖H‖_F = √(1 − (σ/‖H‖)²), since with unit A, B the optimal-scale residual is ‖H‖² − σ².</summary>
    public double RelativeResidual(double hNorm) => KroneckerSimilarity.ScaleFreeRelativeError(Cosine(hNorm));
}
