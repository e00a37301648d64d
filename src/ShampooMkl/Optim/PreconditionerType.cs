namespace ShampooMkl.Optim;

/// <summary>What <see cref="Shampoo"/> does with a matrix parameter's Kronecker factors.</summary>
public enum PreconditionerType
{
    /// <summary>Inverse roots: the direction is L^{-1/p}·G·R^{-1/p} (the default).</summary>
    Shampoo,

    /// <summary>Eigenvalue-corrected Shampoo (SOAP, Vyas et al. 2024): Adam run in the eigenbasis of L and R, refreshed
    /// every <see cref="ShampooOptions.PreconditionFrequency"/> steps (<see cref="ShampooOptions.EigenbasisRefresh"/>).</summary>
    EigenvalueCorrected,
}
