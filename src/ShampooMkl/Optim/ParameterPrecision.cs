namespace ShampooMkl.Optim;

/// <summary>The element type of a <see cref="Parameter"/>'s values and gradient.</summary>
/// <remarks>Independent of <see cref="FactorPrecision"/>: the optimizer converts the gradient into its factor precision
/// and writes the values back in the parameter's own precision.</remarks>
public enum ParameterPrecision
{
    /// <summary>IEEE fp32 (<see cref="float"/>) values and gradient.</summary>
    Single,

    /// <summary>IEEE fp64 (<see cref="double"/>) values and gradient.</summary>
    Double,
}
