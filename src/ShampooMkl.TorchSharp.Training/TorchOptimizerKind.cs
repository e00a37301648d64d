namespace ShampooMkl.TorchSharp.Training;

/// <summary>The optimizers <c>shampoo-mkl train --framework torchsharp</c> can train with: ShampooMkl's, through the
/// TorchSharp adapter, and TorchSharp's own for comparison.</summary>
public enum TorchOptimizerKind
{
    /// <summary>ShampooMkl's Shampoo²: root p = 2 with trace normalisation.</summary>
    ShampooSquared,

    /// <summary>ShampooMkl's classic Shampoo, root p = 4.</summary>
    Shampoo,

    /// <summary>ShampooMkl's AdamW.</summary>
    AdamW,

    /// <summary>TorchSharp's <c>torch.optim.Adam</c>.</summary>
    TorchAdam,

    /// <summary>TorchSharp's <c>torch.optim.AdamW</c>.</summary>
    TorchAdamW,

    /// <summary>ShampooMkl's SOAP (eigenvalue-corrected Shampoo), through the adapter.</summary>
    Soap,
}
