using ShampooMkl.Linalg;
using ShampooMkl.Optim;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp;

/// <summary>ShampooMkl's <see cref="Optim.Shampoo"/> (classic, Shampoo² or any root, everything
/// <see cref="ShampooOptions"/> offers) as a TorchSharp optimizer over CPU float32/float64 parameters, zero-copy.</summary>
/// <remarks>
/// <code>
/// using var optimizer = new TorchShampoo(model.named_parameters(), ShampooOptions.RecommendedShampooSquared);
/// var scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size: 100, gamma: 0.5);
/// optimizer.zero_grad(); loss.backward(); optimizer.step(); scheduler.step();
/// </code>
/// A conv weight (out, in, kh, kw) is preconditioned as an out × in·kh·kw matrix, the core's merged-dimension rule.
/// Everything else — learning rates from <c>ParamGroups</c>, refused parameters, undefined and non-finite gradients,
/// checkpoints — is described on <see cref="TorchOptimizer"/>.
/// </remarks>
public sealed class TorchShampoo : TorchOptimizer
{
    /// <summary>Shampoo over unnamed parameters (<c>module.parameters()</c>), called <c>parameters[i]</c>.</summary>
    /// <param name="parameters">CPU, contiguous float32/float64 parameters that require gradients, each once.</param>
    /// <param name="options">The options; null means <see cref="ShampooOptions.Shampoo"/>.</param>
    /// <param name="blas">The BLAS backend; null means <see cref="BlasBackend.Default"/>.</param>
    /// <exception cref="ArgumentException">No parameter, a parameter listed twice or sharing storage, not on the CPU, not
    /// contiguous, of another dtype or not requiring gradients (the message names it and what to do), or invalid options.</exception>
    public TorchShampoo(IEnumerable<TorchParameter> parameters, ShampooOptions? options = null, BlasBackend? blas = null)
        : this(TorchBinding<ShampooOptions>.Create([new TorchParameterGroup<ShampooOptions>(parameters ?? throw new ArgumentNullException(nameof(parameters)))]), options, blas)
    {
    }

    /// <summary>Shampoo over named parameters (<c>module.named_parameters()</c>); the names key checkpoints and messages.</summary>
    /// <param name="namedParameters">CPU, contiguous float32/float64 parameters that require gradients, each once, names unique.</param>
    /// <param name="options">The options; null means <see cref="ShampooOptions.Shampoo"/>.</param>
    /// <param name="blas">The BLAS backend; null means <see cref="BlasBackend.Default"/>.</param>
    /// <exception cref="ArgumentException">As for the unnamed overload, or two parameters with one name.</exception>
    public TorchShampoo(IEnumerable<(string name, TorchParameter parameter)> namedParameters, ShampooOptions? options = null, BlasBackend? blas = null)
        : this(TorchBinding<ShampooOptions>.Create([new TorchParameterGroup<ShampooOptions>(namedParameters ?? throw new ArgumentNullException(nameof(namedParameters)))]), options, blas)
    {
    }

    /// <summary>Shampoo over parameter groups, each with <paramref name="defaults"/> and its own override of them; one
    /// <c>ParamGroups</c> entry per group.</summary>
    /// <param name="groups">The groups, in order.</param>
    /// <param name="defaults">The default options, which each group's override edits; null means <see cref="ShampooOptions.Shampoo"/>.</param>
    /// <param name="blas">The BLAS backend; null means <see cref="BlasBackend.Default"/>.</param>
    /// <exception cref="ArgumentException">As for the named overload, a null group, or invalid options.</exception>
    public TorchShampoo(IEnumerable<TorchParameterGroup<ShampooOptions>> groups, ShampooOptions? defaults = null, BlasBackend? blas = null)
        : this(TorchBinding<ShampooOptions>.Create(groups), defaults, blas)
    {
    }

    private TorchShampoo(TorchBinding<ShampooOptions> binding, ShampooOptions? defaults, BlasBackend? blas)
        : base(binding.Tensors, binding.TorchGroups, new Optim.Shampoo(binding.CoreGroups, defaults, blas))
    {
    }

    /// <summary>The core optimizer (<see cref="TorchOptimizer.Core"/> typed): preconditioners, options, statistics.</summary>
    public Optim.Shampoo Shampoo => (Optim.Shampoo)Core;
}
