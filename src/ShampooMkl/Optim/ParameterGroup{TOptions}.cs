namespace ShampooMkl.Optim;

/// <summary>Parameters that share one set of optimizer options (e.g. biases without weight decay). As in PyTorch, a
/// group overrides only what it sets: its options are the optimizer's defaults with <paramref name="Override"/> applied.</summary>
/// <remarks>
/// Write the override as an edit of the defaults it receives, <c>o =&gt; o with { WeightDecay = 0 }</c>, so everything the
/// group does not set — learning rate, <c>Schedule</c>, β's, ε — follows the optimizer's defaults. The function is called
/// once, in the optimizer's constructor; a group that ignores its argument (<c>_ =&gt; ShampooOptions.Shampoo</c>) takes
/// nothing from the defaults, which is then what it says.
/// </remarks>
/// <typeparam name="TOptions">The optimizer's options record (<see cref="ShampooOptions"/>, <see cref="AdamWOptions"/>, <see cref="SgdOptions"/>).</typeparam>
/// <param name="Parameters">The group's parameters, in the order their state is checkpointed.</param>
/// <param name="Override">The group's edit of the optimizer's default options, or null for the defaults unchanged. It must
/// return options (not null); the optimizer's constructor validates the result and throws naming the group otherwise.</param>
public record ParameterGroup<TOptions>(IReadOnlyList<Parameter> Parameters, Func<TOptions, TOptions>? Override = null) where TOptions : class;
