namespace ShampooMkl.Optim;

/// <summary>Parameters that share one set of optimizer options (e.g. biases without weight decay); null options mean the optimizer's defaults.</summary>
/// <typeparam name="TOptions">The optimizer's options record (<see cref="ShampooOptions"/>, <see cref="AdamWOptions"/>, <see cref="SgdOptions"/>).</typeparam>
/// <param name="Parameters">The group's parameters, in the order their state is checkpointed.</param>
/// <param name="Options">The group's options, or null for the optimizer's defaults.</param>
public record ParameterGroup<TOptions>(IReadOnlyList<Parameter> Parameters, TOptions? Options = null) where TOptions : class;
