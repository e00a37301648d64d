using ShampooMkl.Optim;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp;

/// <summary>The TorchSharp parameter groups of one optimizer, checked and bound: every tensor as a
/// <see cref="BoundTensor"/>, and the same groups as the core optimizer's <see cref="ParameterGroup{TOptions}"/>s.</summary>
internal sealed class TorchBinding<TOptions> where TOptions : class
{
    private TorchBinding(BoundTensor[] tensors, TorchParameter[][] torchGroups, ParameterGroup<TOptions>[] coreGroups)
    {
        Tensors = tensors;
        TorchGroups = torchGroups;
        CoreGroups = coreGroups;
    }

    /// <summary>Every parameter, in group order.</summary>
    public BoundTensor[] Tensors { get; }

    /// <summary>Each group's TorchSharp parameters.</summary>
    public TorchParameter[][] TorchGroups { get; }

    /// <summary>Each group's core parameters with its options.</summary>
    public ParameterGroup<TOptions>[] CoreGroups { get; }

    /// <summary>Checks and binds <paramref name="groups"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="groups"/> is null.</exception>
    /// <exception cref="ArgumentException">A null group or parameter, no parameter at all, a parameter listed twice or
    /// sharing storage with another, or one the core cannot update in place (see <see cref="BoundTensor"/>).</exception>
    public static TorchBinding<TOptions> Create(IEnumerable<TorchParameterGroup<TOptions>> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var list = groups.ToList();
        var tensors = new List<BoundTensor>();
        var torchGroups = new TorchParameter[list.Count][];
        var coreGroups = new ParameterGroup<TOptions>[list.Count];
        var byHandle = new Dictionary<nint, string>();
        for (var g = 0; g < list.Count; g++)
        {
            var group = list[g] ?? throw new ArgumentException($"Parameter group {g} is null.", nameof(groups));
            var torch = new TorchParameter[group.Parameters.Count];
            var core = new Parameter[torch.Length];
            for (var k = 0; k < torch.Length; k++)
            {
                var (name, tensor) = group.Parameters[k];
                var fullName = name ?? $"parameters[{tensors.Count}]";
                if (tensor is null)
                {
                    throw new ArgumentException($"Parameter '{fullName}' (group {g}) is null.", nameof(groups));
                }

                if (!tensor.IsInvalid && byHandle.TryGetValue(tensor.Handle, out var first))
                {
                    throw new ArgumentException(
                        $"Parameter '{fullName}' is listed twice (first as '{first}'); each parameter belongs to one group, once.", nameof(groups));
                }

                var bound = new BoundTensor(fullName, tensor);
                byHandle[tensor.Handle] = fullName;
                tensors.Add(bound);
                torch[k] = tensor;
                core[k] = bound.Core;
            }

            torchGroups[g] = torch;
            coreGroups[g] = new ParameterGroup<TOptions>(core, group.Override);
        }

        if (tensors.Count == 0)
        {
            throw new ArgumentException("The optimizer needs at least one parameter, and the groups hold none (did module.parameters() return an empty list?).", nameof(groups));
        }

        CheckDisjointStorage(tensors);
        return new TorchBinding<TOptions>([.. tensors], torchGroups, coreGroups);
    }

    /// <summary>Parameters must not share memory: the optimizer would update the shared elements twice per step.</summary>
    private static void CheckDisjointStorage(List<BoundTensor> tensors)
    {
        var sorted = tensors.OrderBy(t => t.Storage.Start).ToArray();
        for (var i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Storage.Start < sorted[i - 1].Storage.End)
            {
                throw new ArgumentException(
                    $"Parameters '{sorted[i - 1].Name}' and '{sorted[i].Name}' share storage (one is a view of the other, or the same tensor " +
                    "is listed twice); each element may belong to one parameter only: list each tensor once.", "groups");
            }
        }
    }
}
