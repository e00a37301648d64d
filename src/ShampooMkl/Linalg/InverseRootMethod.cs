namespace ShampooMkl.Linalg;

/// <summary>How the eigenbasis of a factor is obtained.</summary>
public enum InverseRootMethod
{
    /// <summary>A full <c>syevd</c> every time.</summary>
    Eigendecomposition,

    /// <summary>One subspace power step (A·V, then QR) from the previous eigenbasis, with Rayleigh-quotient
    /// eigenvalues: O(n³) like syevd but with a much smaller constant; falls back to syevd when there is no basis yet.</summary>
    EigenbasisWarmStart,

    /// <summary>The coupled Newton iteration of <see cref="CoupledNewtonInverseRoot"/> (gemm only, no eigenbasis, no
    /// state between calls) with its default tolerance and iteration cap; p must be an integer. Its eigenvalues are not
    /// clamped at zero, so ε must dominate a rank-deficient factor's round-off negatives; when the iteration does not
    /// converge the call reports <see cref="InverseRootStatus.NotConverged"/> and writes nothing.</summary>
    CoupledNewton,
}
