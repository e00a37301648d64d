namespace ShampooMkl.Optim;

/// <summary>Which diagonal method's per-block step size Shampoo's direction is rescaled to (learning-rate grafting).</summary>
/// <remarks>
/// Grafting only borrows the <em>norm</em> of the other method's direction, block by block; momentum is applied
/// afterwards to the grafted direction, so it is not part of the grafted method (as in Distributed Shampoo).
/// Before <see cref="ShampooOptions.StartPreconditioningStep"/> the grafted method's direction is used as is.
/// </remarks>
public enum GraftingType
{
    /// <summary>No rescaling: the Shampoo direction is used as computed (the raw gradient before preconditioning starts).</summary>
    None,

    /// <summary>The gradient's norm: d ← D · ‖G‖ / ‖D‖ per block.</summary>
    Sgd,

    /// <summary>Adagrad: v ← v + g², grafting direction g / (√v + ε); Distributed Shampoo's ε default 1e-10.</summary>
    Adagrad,

    /// <summary>RMSprop: v ← β·v + (1−β)·g² without bias correction; defaults β = 0.99, ε = 1e-8.</summary>
    RmsProp,

    /// <summary>Adam's second moment: RMSprop with bias correction v / (1 − βᵗ); defaults β = 0.999, ε = 1e-8.</summary>
    Adam,
}
