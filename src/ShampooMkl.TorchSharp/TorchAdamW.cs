using ShampooMkl.Optim;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp;

/// <summary>ShampooMkl's <see cref="Optim.AdamW"/> as a TorchSharp optimizer over CPU float32/float64 parameters,
/// zero-copy (the baseline <see cref="TorchShampoo"/> is measured against, with the same API).</summary>
/// <remarks>Learning rates from <c>ParamGroups</c>, refused parameters, undefined and non-finite gradients and
/// checkpoints are described on <see cref="TorchOptimizer"/>.</remarks>
public sealed class TorchAdamW : TorchOptimizer
{
    /// <summary>AdamW over unnamed parameters (<c>module.parameters()</c>), called <c>parameters[i]</c>.</summary>
    /// <param name="parameters">CPU, contiguous float32/float64 parameters that require gradients, each once.</param>
    /// <param name="options">The options; null means <see cref="AdamWOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">No parameter, a parameter listed twice or sharing storage, not on the CPU, not
    /// contiguous, of another dtype or not requiring gradients (the message names it and what to do), or invalid options.</exception>
    public TorchAdamW(IEnumerable<TorchParameter> parameters, AdamWOptions? options = null)
        : this(TorchBinding<AdamWOptions>.Create([new TorchParameterGroup<AdamWOptions>(parameters ?? throw new ArgumentNullException(nameof(parameters)))]), options)
    {
    }

    /// <summary>AdamW over named parameters (<c>module.named_parameters()</c>); the names key checkpoints and messages.</summary>
    /// <param name="namedParameters">CPU, contiguous float32/float64 parameters that require gradients, each once, names unique.</param>
    /// <param name="options">The options; null means <see cref="AdamWOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">As for the unnamed overload, or two parameters with one name.</exception>
    public TorchAdamW(IEnumerable<(string name, TorchParameter parameter)> namedParameters, AdamWOptions? options = null)
        : this(TorchBinding<AdamWOptions>.Create([new TorchParameterGroup<AdamWOptions>(namedParameters ?? throw new ArgumentNullException(nameof(namedParameters)))]), options)
    {
    }

    /// <summary>AdamW over parameter groups, each with <paramref name="defaults"/> and its own override of them.</summary>
    /// <param name="groups">The groups, in order.</param>
    /// <param name="defaults">The default options, which each group's override edits; null means <see cref="AdamWOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">As for the named overload, a null group, or invalid options.</exception>
    public TorchAdamW(IEnumerable<TorchParameterGroup<AdamWOptions>> groups, AdamWOptions? defaults = null)
        : this(TorchBinding<AdamWOptions>.Create(groups), defaults)
    {
    }

    private TorchAdamW(TorchBinding<AdamWOptions> binding, AdamWOptions? defaults)
        : base(binding.Tensors, binding.TorchGroups, new Optim.AdamW(binding.CoreGroups, defaults))
    {
    }

    /// <summary>The core optimizer (<see cref="TorchOptimizer.Core"/> typed).</summary>
    public Optim.AdamW AdamW => (Optim.AdamW)Core;
}
