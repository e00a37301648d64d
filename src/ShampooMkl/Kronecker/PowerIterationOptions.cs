namespace ShampooMkl.Kronecker;

/// <summary>Settings of the optimal-Kronecker power iteration.</summary>
public sealed record PowerIterationOptions
{
    /// <summary>Most passes over the sample; each costs about 3 to 4·N·m·n·(m + n) flops for dense gradients.</summary>
    public int MaxIterations { get; init; } = 20;

    /// <summary>Stop once ‖A_{t+1} − A_t‖_F + ‖B_{t+1} − B_t‖_F ≤ this, on unit-norm iterates. The cosine to H is stationary
    /// at the optimum, so its error is of the order of the square of this.</summary>
    public double Tolerance { get; init; } = 1e-6;

    /// <summary>Starting pair, symmetric PSD (e.g. another approximation's factors; normalised before use, negative
    /// eigenvalues clamped); null means A₀ = I_m, B₀ = I_n, whose first step is Shampoo².</summary>
    public KroneckerPair? Start { get; init; }

    /// <summary>Called after every pass, e.g. to report progress of a long analysis.</summary>
    public Action<PowerIterationStep>? Progress { get; init; }
}
