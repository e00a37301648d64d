using ShampooMkl.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp;

/// <summary>The common part of <see cref="TorchShampoo"/> and <see cref="TorchAdamW"/>: a TorchSharp optimizer
/// (<c>torch.optim</c>-style <c>step</c>, <c>zero_grad</c>, <c>ParamGroups</c>) whose update is a ShampooMkl core
/// optimizer working directly on the tensors' storage.</summary>
/// <remarks>
/// <para><b>Zero copy.</b> Every parameter is a core <see cref="Optim.Parameter"/> over its CPU tensor's own storage
/// (<see cref="Optim.Parameter.FromPointer"/>); before each step the tensor's current <c>.grad</c> is bound the same way
/// (PyTorch may hand a new gradient tensor after <c>zero_grad</c> or a fresh backward), through TorchSharp's native
/// exports, so a step copies no value or gradient and, with no closure, allocates no managed memory. The core writes
/// the new values straight into the storage, outside autograd (as <c>torch.optim</c> updates under <c>no_grad</c>),
/// without bumping the tensors' version counters.</para>
/// <para><b>Learning rates.</b> <c>ParamGroups</c> has one entry per group, in constructor order; its
/// <c>LearningRate</c>, set by the user or by a TorchSharp scheduler (<c>torch.optim.lr_scheduler.StepLR(optimizer, …)</c>),
/// is the group's base rate η₀ of the next <see cref="step"/> (<see cref="IOptimizer.SetLearningRate"/>); the core's
/// own <c>Schedule</c> still multiplies it (leave it <c>Constant</c> when a TorchSharp scheduler drives the rate).
/// Set rates through <c>ParamGroups</c>: a rate set on <see cref="Core"/> directly is overwritten by the next step.</para>
/// <para><b>Undefined gradients.</b> torch.optim skips a parameter whose <c>.grad</c> is undefined; this optimizer
/// refuses the step instead (<see cref="InvalidOperationException"/> naming the parameter, nothing changed), because
/// Shampoo's statistics, momentum and step count are kept for every parameter at every step. A non-finite gradient
/// follows the core's policy: the whole step is skipped, state unchanged, and <see cref="LastResult"/> says why.</para>
/// <para><b>Checkpoints.</b> <see cref="save"/>/<see cref="load"/> write and read ShampooMkl's checkpoint format
/// (<see cref="Checkpoint"/>: parameter values, optimizer state, step count and each group's base learning rate);
/// beside <c>module.save</c>, a resume is bit-exact. TorchSharp's <c>state_dict</c> format is not offered.</para>
/// <para>Not thread-safe, like every optimizer. Dispose frees the core optimizer's native buffers; the module's
/// tensors are never disposed here.</para>
/// </remarks>
public abstract class TorchOptimizer : OptimizerHelper
{
    private readonly BoundTensor[] tensors;
    private readonly ParamGroup[] groups;
    private bool disposed;

    private protected TorchOptimizer(BoundTensor[] tensors, TorchParameter[][] torchGroups, ICheckpointable core)
    {
        this.tensors = tensors;
        Core = core;
        groups = new ParamGroup[torchGroups.Length];
        for (var g = 0; g < groups.Length; g++)
        {
            var rate = core.GetLearningRate(g);
            groups[g] = new ParamGroup
            {
                Parameters = torchGroups[g],
                Options = new OptimizerOptions { LearningRate = rate, InitialLearningRate = rate },
            };
        }

        _parameter_groups = [.. groups];
    }

    /// <summary>The core optimizer doing the work: its <see cref="IOptimizer.Statistics"/>, <see cref="IOptimizer.StepCount"/>
    /// and parameters (named as given, or <c>parameters[i]</c>) are this optimizer's.</summary>
    public ICheckpointable Core { get; }

    /// <summary>What the last <see cref="step"/> did (applied or skipped and why, roots refreshed); default before the first.</summary>
    public StepResult LastResult { get; private set; }

    /// <summary>Evaluates <paramref name="closure"/> (if any) with gradients enabled, then applies one update from every
    /// parameter's current <c>.grad</c> with each group's <c>LearningRate</c> as its base rate.</summary>
    /// <param name="closure">Re-evaluates the model and returns the loss (its backward done), or null.</param>
    /// <returns>The closure's loss, or null.</returns>
    /// <exception cref="InvalidOperationException">A parameter without a gradient, with an unusable gradient (another
    /// dtype, size or device, not contiguous) or whose storage moved; nothing changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A group's <c>LearningRate</c> is NaN, infinite or negative.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public override Tensor? step(Func<Tensor>? closure = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Tensor? loss = null;
        if (closure is not null)
        {
            using (enable_grad())
            {
                loss = closure();
            }
        }

        PushLearningRates();
        foreach (var t in tensors)
        {
            t.BindGradient();
        }

        LastResult = Core.Step();
        return loss;
    }

    /// <summary>Zeroes every parameter's gradient in place (storage kept, as TorchSharp's own optimizers do); an undefined
    /// gradient stays undefined.</summary>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    public override void zero_grad()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        foreach (var t in tensors)
        {
            t.ZeroGradient();
        }
    }

    /// <summary>Saves the optimizer's complete state (parameter values included) and each group's current
    /// <c>LearningRate</c> to <paramref name="path"/>, atomically (<see cref="Checkpoint.Save(ICheckpointable, string)"/>).</summary>
    /// <exception cref="IOException">The file could not be written (a previous file is unchanged).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A group's <c>LearningRate</c> is NaN, infinite or negative.</exception>
    public void save(string path)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        PushLearningRates();
        Checkpoint.Save(Core, path);
    }

    /// <summary>Restores what <see cref="save"/> wrote, parameter values and <c>ParamGroups</c>' learning rates included
    /// (<see cref="Checkpoint.Load(ICheckpointable, string)"/>): the next <see cref="step"/> continues bit-exactly.</summary>
    /// <exception cref="InvalidDataException">Not a checkpoint, corrupted, or saved from another optimizer kind, model
    /// or incompatible options; nothing changed.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    public void load(string path)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Checkpoint.Load(Core, path);
        for (var g = 0; g < groups.Length; g++)
        {
            groups[g].LearningRate = Core.GetLearningRate(g);
        }
    }

    /// <summary>Not offered: the state is kept in ShampooMkl's checkpoint format.</summary>
    /// <exception cref="NotSupportedException">Always; use <see cref="save"/> and <see cref="load"/>.</exception>
    public override StateDictionary state_dict() => throw NotStateDict();

    /// <summary>Not offered: the state is kept in ShampooMkl's checkpoint format.</summary>
    /// <exception cref="NotSupportedException">Always; use <see cref="save"/> and <see cref="load"/>.</exception>
    public override void load_state_dict(StateDictionary state_dict) => throw NotStateDict();

    /// <summary>Not offered: the parameters are fixed when the optimizer is created.</summary>
    /// <exception cref="NotSupportedException">Always; create a new optimizer over every group instead.</exception>
    public override void add_param_group(ParamGroup param_group) =>
        throw new NotSupportedException($"{GetType().Name}'s parameters are fixed when it is created: create a new optimizer over every group instead of add_param_group.");

    /// <summary>Frees the core optimizer's buffers (not the module's tensors).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !disposed)
        {
            disposed = true;
            Core.Dispose();
        }

        base.Dispose(disposing);
    }

    private void PushLearningRates()
    {
        for (var g = 0; g < groups.Length; g++)
        {
            Core.SetLearningRate(g, groups[g].LearningRate);
        }
    }

    private NotSupportedException NotStateDict() => new(
        $"{GetType().Name} keeps its state in ShampooMkl's checkpoint format: use save(path) and load(path) instead of state_dict(), " +
        "load_state_dict() or save_state_dict().");
}
