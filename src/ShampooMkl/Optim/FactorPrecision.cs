namespace ShampooMkl.Optim;

/// <summary>The precision Shampoo keeps its statistics, roots, direction and momentum in (roots are always computed in fp64).</summary>
public enum FactorPrecision
{
    /// <summary>fp32: half the memory and about twice the BLAS throughput (Distributed Shampoo's default); needs an ε above
    /// fp32 rounding of the statistics (≳ 1e-8·λ_max).</summary>
    Single,

    /// <summary>fp64 (the default): small eigenvalues of the statistics stay meaningful, and sums keep their digits over long
    /// runs with β₂ = 1.</summary>
    Double,
}
