using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp;

/// <summary>TorchSharp parameters that share one set of optimizer options (e.g. biases without weight decay), as
/// torch.optim's parameter groups: a group overrides only what it sets, its options being the optimizer's defaults with
/// <see cref="Override"/> applied (see <see cref="ShampooMkl.Optim.ParameterGroup{TOptions}"/>).</summary>
/// <remarks>A parameter's name keys its state in checkpoints and appears in every message about it; a parameter given
/// without a name is called <c>parameters[i]</c>, i its position among all the optimizer's parameters.</remarks>
/// <typeparam name="TOptions">The optimizer's options record (<see cref="ShampooMkl.Optim.ShampooOptions"/> or
/// <see cref="ShampooMkl.Optim.AdamWOptions"/>).</typeparam>
public sealed class TorchParameterGroup<TOptions> where TOptions : class
{
    /// <summary>A group of named parameters, e.g. from <c>module.named_parameters()</c>.</summary>
    /// <param name="namedParameters">The parameters with their names; names must be unique in the optimizer.</param>
    /// <param name="override">The group's edit of the optimizer's defaults, e.g. <c>o =&gt; o with { WeightDecay = 0 }</c>,
    /// or null for the defaults unchanged.</param>
    /// <exception cref="ArgumentNullException"><paramref name="namedParameters"/> is null.</exception>
    public TorchParameterGroup(IEnumerable<(string name, TorchParameter parameter)> namedParameters, Func<TOptions, TOptions>? @override = null)
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        Parameters = [.. namedParameters.Select(p => ((string?)p.name, p.parameter))];
        Override = @override;
    }

    /// <summary>A group of unnamed parameters, e.g. from <c>module.parameters()</c>.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="override">The group's edit of the optimizer's defaults, e.g. <c>o =&gt; o with { WeightDecay = 0 }</c>,
    /// or null for the defaults unchanged.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    public TorchParameterGroup(IEnumerable<TorchParameter> parameters, Func<TOptions, TOptions>? @override = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = [.. parameters.Select(p => ((string?)null, p))];
        Override = @override;
    }

    /// <summary>The group's parameters in order, each with its name or null.</summary>
    public IReadOnlyList<(string? Name, TorchParameter Parameter)> Parameters { get; }

    /// <summary>The group's edit of the optimizer's defaults, or null for the defaults unchanged.</summary>
    public Func<TOptions, TOptions>? Override { get; }
}
