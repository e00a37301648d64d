namespace ShampooMkl.Linalg;

/// <summary>What one <see cref="CoupledNewtonInverseRoot.Compute{T}"/> call did.</summary>
/// <param name="Status">Whether the root was written.</param>
/// <param name="Iterations">Newton steps taken (each costs ⌊log₂ p⌋ + popcount(p) + 1 gemms: 4 at p = 4, 3 at p = 2).</param>
/// <param name="Residual">The last accepted max|X^p·(A + εI) − I|.</param>
internal readonly record struct CoupledNewtonResult(CoupledNewtonStatus Status, int Iterations, double Residual)
{
    /// <summary>True when the root was written.</summary>
    public bool Succeeded => Status == CoupledNewtonStatus.Converged;
}
