namespace ShampooMkl.Optim;

/// <summary>A parameter group for <see cref="Shampoo"/>: the optimizer's default options with <paramref name="Override"/>
/// applied (see <see cref="ParameterGroup{TOptions}"/>).</summary>
/// <param name="Parameters">The group's parameters.</param>
/// <param name="Override">The group's edit of the default options, e.g. <c>o =&gt; o with { WeightDecay = 0 }</c>, or null for the defaults.</param>
public sealed record ParameterGroup(IReadOnlyList<Parameter> Parameters, Func<ShampooOptions, ShampooOptions>? Override = null)
    : ParameterGroup<ShampooOptions>(Parameters, Override);
