namespace ShampooMkl.Linalg;

/// <summary>Outcome of an inverse-root computation; anything but <see cref="Success"/> leaves the output untouched.</summary>
internal enum InverseRootStatus
{
    /// <summary>The root was written.</summary>
    Success,

    /// <summary>The input held NaN or ±∞.</summary>
    NonFiniteInput,

    /// <summary>LAPACK reported a failure (info ≠ 0) or a non-finite eigenvalue.</summary>
    DecompositionFailed,

    /// <summary>The computed root was not finite (ε too small for the spectrum's range).</summary>
    NonFiniteResult,

    /// <summary><see cref="InverseRootMethod.CoupledNewton"/> stopped at its iteration cap (or stalled) above its
    /// residual tolerance.</summary>
    NotConverged,
}
