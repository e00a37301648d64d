namespace ShampooMkl.Analysis.Training;

/// <summary>The optimizers the command line can train with.</summary>
public enum OptimizerKind
{
    /// <summary>Classic Shampoo, root p = 4.</summary>
    Shampoo,

    /// <summary>Shampoo²: root p = 2 with trace normalisation.</summary>
    ShampooSquared,

    /// <summary>AdamW.</summary>
    AdamW,

    /// <summary>SGD with momentum.</summary>
    Sgd,

    /// <summary>SOAP: Adam in the eigenbasis of Shampoo's factors (<see cref="ShampooMkl.Optim.PreconditionerType.EigenvalueCorrected"/>).</summary>
    Soap,
}
