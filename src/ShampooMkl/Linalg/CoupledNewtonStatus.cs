namespace ShampooMkl.Linalg;

/// <summary>Outcome of a coupled Newton inverse root; anything but <see cref="Converged"/> leaves the output untouched.</summary>
internal enum CoupledNewtonStatus
{
    /// <summary>The residual max|M − I| fell to the tolerance and the root was written.</summary>
    Converged,

    /// <summary>The iteration cap was reached (or progress stopped) above the tolerance.</summary>
    NotConverged,

    /// <summary>The input held NaN or ±∞.</summary>
    NonFiniteInput,

    /// <summary>A + εI is zero, or an iterate became non-finite.</summary>
    NonFiniteResult,
}
