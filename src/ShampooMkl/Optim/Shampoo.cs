using System.Diagnostics;
using System.Globalization;
using System.Text;
using ShampooMkl.Native;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>The Shampoo optimizer (classic, Shampoo², or any root p) over parameter groups, on MKL or OpenBLAS.</summary>
/// <remarks>
/// <para>One <see cref="Step"/> at step t = <see cref="StepCount"/> + 1, each parameter with its group's options, learning
/// rate η = <c>LearningRate</c>·<c>Schedule.Factor(t)</c> and start step t₀ = <c>EffectiveStartPreconditioningStep</c>:</para>
/// <list type="number">
/// <item>(a) Check every gradient: a wrong length throws <see cref="ArgumentException"/>; a NaN/±∞ anywhere skips the
/// whole step (<see cref="OptimizerStatistics.SkippedSteps"/> + 1, result names the parameter). Nothing changes before
/// all gradients passed.</item>
/// <item>(b) Statistics. A matrix (rank ≥ 2, merged to <c>MatrixRows</c>×<c>MatrixCols</c>) is cut into blocks of at
/// most <c>MaxPreconditionerDim</c> per side; per block L ← β₂L + (1−β₂)GGᵀ, R ← β₂R + (1−β₂)GᵀG (β₂ = 1: plain sums).
/// A vector keeps v ← β₂v + (1−β₂)g². The grafting accumulator a ← β_g·a + (1−β_g)g² (Adagrad: a ← a + g²).</item>
/// <item>(c) If t ≥ t₀ and (t = t₀ or t mod <c>PreconditionFrequency</c> = 0): every block's roots
/// Ľ = (L/c₂ + εI)^{-1/p}, Ř = (R/c₂ + εI)^{-1/p} from its eigendecomposition with eigenvalues clamped at 0, in fp64,
/// c₂ = 1 − β₂ᵗ with <c>BiasCorrection</c> and β₂ &lt; 1, else 1. Blocks are refreshed in parallel (at most
/// <c>RefreshParallelism</c> at once). A block whose root fails keeps its previous roots and its ε grows; the failure is
/// counted in <see cref="OptimizerStatistics.FailedRootBlocks"/>, logged, and reported in the step's message.</item>
/// <item>(d) Direction D. Before t₀: the grafting method's own step (G for None and Sgd, G / (√(a/c_g) + ε_g)
/// elementwise otherwise, c_g = 1 − β_gᵗ for Adam only). From t₀: per block D = s·Ľ·G·Ř with s = (Tr L/c₂)^{1/p} when
/// <c>TraceNormalized</c>, else 1; a vector uses D = g / (√(v/c₂) + ε_diag). Grafting then rescales each block:
/// D ← D·‖P‖_F / ‖D‖_F, P the grafting step on the same block (P = G for Sgd; no rescaling for None).</item>
/// <item>(e) Momentum, β₁ &gt; 0: m ← β₁m + (1−β₁)D, c₁ = 1 − β₁ᵗ with <c>BiasCorrection</c> (else 1);
/// U = m/c₁, or with Nesterov U = β₁m/c₁ + (1−β₁)D. With β₁ = 0, U = D.</item>
/// <item>(f, g) Decoupled weight decay and the update in one pass: W ← W·(1 − η·λ) − η·U.</item>
/// </list>
/// <para>Momentum is applied to the preconditioned, grafted direction, where DS applies its <c>momentum</c>: the average
/// is over steps of the size grafting chose, and each direction uses the current gradient with the current statistics.
/// DS's other first moment (β₁ "filtered gradient" before preconditioning) is not offered. Weight decay is AdamW-style,
/// outside momentum (DS adds λW to the direction before its momentum).</para>
/// <para>Parameters are fp32; everything in (b)–(g) runs in <c>FactorPrecision</c> (grafting and diagonal accumulators
/// in fp64) and W is rounded to fp32 once per step. A step that refreshes no roots allocates no managed memory; a
/// refresh allocates a little (the parallel loop and pooled LAPACK workspaces on first use), amortised over
/// <c>PreconditionFrequency</c> steps.</para>
/// </remarks>
public sealed class Shampoo : ICheckpointable
{
    /// <summary>The value of <see cref="CheckpointKind"/>.</summary>
    public const string Kind = "Shampoo";

    private readonly ParameterRegistry<ShampooOptions> registry;
    private readonly ShampooParameterState[] states;
    private readonly (int State, int Block)[] refreshQueue;
    private readonly RootRefreshResult[] refreshResults;
    private readonly string[] signature;
    private bool disposed;

    /// <summary>Shampoo over <paramref name="parameters"/>, all with the same options.</summary>
    /// <param name="parameters">The parameters, in checkpoint order; names must be unique.</param>
    /// <param name="options">The options; null means <see cref="ShampooOptions.Shampoo"/>.</param>
    /// <param name="blas">The BLAS backend; null means <see cref="BlasLibrary.Default"/>.</param>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public Shampoo(IReadOnlyList<Parameter> parameters, ShampooOptions? options = null, BlasLibrary? blas = null)
        : this([new ParameterGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], options, blas)
    {
    }

    /// <summary>Shampoo over parameter groups, each with its own options or <paramref name="defaults"/>.</summary>
    /// <param name="groups">The groups; their parameters, in order, are <see cref="Parameters"/>.</param>
    /// <param name="defaults">Options of groups without their own, and the source of <see cref="CurrentLearningRate"/> and
    /// <see cref="ShampooOptions.RefreshParallelism"/>; null means <see cref="ShampooOptions.Shampoo"/>.</param>
    /// <param name="blas">The BLAS backend; null means <see cref="BlasLibrary.Default"/>.</param>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public Shampoo(IReadOnlyList<ParameterGroup<ShampooOptions>> groups, ShampooOptions? defaults = null, BlasLibrary? blas = null)
    {
        registry = new ParameterRegistry<ShampooOptions>(groups, defaults ?? ShampooOptions.Shampoo, o => o.Validate());
        states = new ShampooParameterState[registry.Count];
        try
        {
            for (var i = 0; i < states.Length; i++)
            {
                states[i] = ShampooParameterState.Create(registry.Parameters[i], registry.OptionsOf(i), blas);
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        refreshQueue = new (int, int)[states.Sum(s => s.BlockCount)];
        refreshResults = new RootRefreshResult[refreshQueue.Length];
        signature = new string[states.Length];
        for (var i = 0; i < states.Length; i++)
        {
            signature[i] = $"{registry.Describe(i)}: {registry.OptionsOf(i).StructuralSignature()}";
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<Parameter> Parameters => registry.Parameters;

    /// <inheritdoc />
    public long StepCount { get; private set; }

    /// <summary>The learning rate of the next step for parameters with the default options.</summary>
    public double CurrentLearningRate => LearningRate(registry.Defaults, StepCount + 1);

    /// <inheritdoc />
    public OptimizerStatistics Statistics { get; } = new();

    /// <summary>The default options.</summary>
    public ShampooOptions Options => registry.Defaults;

    /// <summary>The options in force for each group, in constructor order.</summary>
    public IReadOnlyList<ShampooOptions> GroupOptions => registry.GroupOptions;

    /// <inheritdoc />
    public string CheckpointKind => Kind;

    /// <inheritdoc />
    public IReadOnlyList<string> CheckpointSignature => signature;

    /// <summary>The learning rate the next step will use for <paramref name="parameter"/> (its group's rate and schedule).</summary>
    public double LearningRateOf(Parameter parameter) => LearningRate(states[IndexOf(parameter)].Options, StepCount + 1);

    /// <summary>The preconditioner of <paramref name="parameter"/>: a <see cref="BlockedShampooPreconditioner{T}"/> for a
    /// matrix, a <see cref="DiagonalPreconditioner"/> for a vector. For inspection; updating it directly desynchronises the optimizer.</summary>
    public IPreconditioner PreconditionerOf(Parameter parameter) => states[IndexOf(parameter)].Preconditioner;

    /// <inheritdoc />
    public StepResult Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var started = Stopwatch.GetTimestamp();
        var step = StepCount + 1;
        var bad = registry.CheckGradients();
        if (bad >= 0)
        {
            Statistics.SkippedSteps++;
            return new StepResult(false, false, registry.SkipMessage(bad, step));
        }

        foreach (var state in states)
        {
            state.AccumulateStatistics();
        }

        var pending = 0;
        for (var s = 0; s < states.Length; s++)
        {
            if (states[s].BlockCount > 0 && IsRefreshStep(states[s].Options, step))
            {
                for (var b = 0; b < states[s].BlockCount; b++)
                {
                    refreshQueue[pending++] = (s, b);
                }
            }
        }

        string? message = null;
        var refreshTime = TimeSpan.Zero;
        if (pending > 0)
        {
            (message, refreshTime) = RefreshRoots(pending, step);
        }

        foreach (var state in states)
        {
            var o = state.Options;
            state.ApplyUpdate(step, step >= o.EffectiveStartPreconditioningStep, LearningRate(o, step));
        }

        StepCount = step;
        Statistics.StepTime += Stopwatch.GetElapsedTime(started) - refreshTime;
        return new StepResult(true, pending > 0, message);
    }

    private (string? Message, TimeSpan Elapsed) RefreshRoots(int pending, long step)
    {
        var started = Stopwatch.GetTimestamp();
        var degree = Math.Min(pending, registry.Defaults.EffectiveRefreshParallelism);
        if (degree <= 1)
        {
            for (var i = 0; i < pending; i++)
            {
                refreshResults[i] = states[refreshQueue[i].State].RefreshBlock(refreshQueue[i].Block);
            }
        }
        else
        {
            // Blocks own their factors, roots and solvers, so refreshing different blocks at once shares nothing but the
            // (locked) buffer pool. BLAS may add its own threads inside each call; a later scheduler will balance the two.
            Parallel.For(0, pending, new ParallelOptions { MaxDegreeOfParallelism = degree },
                i => refreshResults[i] = states[refreshQueue[i].State].RefreshBlock(refreshQueue[i].Block));
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        Statistics.RootRefreshes++;
        Statistics.RefreshedBlocks += pending;
        Statistics.RefreshTime += elapsed;
        string? first = null;
        for (var i = 0; i < pending; i++)
        {
            var result = refreshResults[i];
            if (!result.Succeeded)
            {
                Statistics.FailedRootBlocks += Math.Max(1, result.FailedBlocks);
                var (s, b) = refreshQueue[i];
                var entry = string.Create(CultureInfo.InvariantCulture,
                    $"Step {step}: parameter '{states[s].Parameter.Name}' block {b}: {result.Detail ?? "root computation failed"}");
                Statistics.AddLog(entry);
                first ??= entry;
            }
        }

        return (first, elapsed);
    }

    private static bool IsRefreshStep(ShampooOptions o, long step)
    {
        var start = o.EffectiveStartPreconditioningStep;
        return step == start || (step > start && step % o.PreconditionFrequency == 0);
    }

    private static double LearningRate(ShampooOptions o, long step) => o.LearningRate * o.Schedule.Factor(step);

    private int IndexOf(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        for (var i = 0; i < states.Length; i++)
        {
            if (ReferenceEquals(states[i].Parameter, parameter))
            {
                return i;
            }
        }

        throw new ArgumentException($"Parameter '{parameter.Name}' is not optimized by this optimizer.", nameof(parameter));
    }

    /// <inheritdoc />
    public string DescribeOptions()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"defaults: {registry.Defaults}");
        for (var g = 0; g < registry.GroupOptions.Count; g++)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"group {g}: {registry.GroupOptions[g]}");
        }

        return text.ToString();
    }

    /// <inheritdoc />
    /// <remarks>Names: <c>step</c>, then per parameter <c>{name}/value</c>, <c>{name}/momentum</c> (β₁ &gt; 0),
    /// <c>{name}/shampoo.block{k}.{L,R,Lroot,Rroot,Lbasis,Rbasis,updates,refreshes,failedRefreshes,epsilon,scale,hasRoots}</c>
    /// for a matrix or <c>{name}/diagonal.{v,updates}</c> for a vector, and <c>{name}/grafting.{v,updates}</c>.</remarks>
    public IReadOnlyList<StateTensor> ExportState()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var all = new List<StateTensor> { StateTensor.Scalar(StateTransfer.StepName, StepCount) };
        foreach (var state in states)
        {
            state.Export(all, state.Parameter.Name + "/");
        }

        return all;
    }

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        StateTransfer.ImportAllOrNothing(ExportState(), state, Apply);
    }

    private void Apply(IReadOnlyList<StateTensor> state)
    {
        var step = StateTransfer.Counter(state, StateTransfer.StepName);
        foreach (var s in states)
        {
            s.Import(StateTransfer.Under(state, s.Parameter.Name + "/"));
        }

        StepCount = step;
    }

    /// <summary>Frees every preconditioner and buffer; the parameters stay usable.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var state in states)
        {
            state?.Dispose();
        }
    }
}
