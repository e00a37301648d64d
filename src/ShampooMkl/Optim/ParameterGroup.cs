namespace ShampooMkl.Optim;

/// <summary>A parameter group for <see cref="Shampoo"/>.</summary>
/// <param name="Parameters">The group's parameters.</param>
/// <param name="Options">The group's options, or null for the optimizer's defaults.</param>
public sealed record ParameterGroup(IReadOnlyList<Parameter> Parameters, ShampooOptions? Options = null)
    : ParameterGroup<ShampooOptions>(Parameters, Options);
