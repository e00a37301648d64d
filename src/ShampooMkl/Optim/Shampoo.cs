using System.Diagnostics;
using System.Globalization;
using System.Text;
using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>The Shampoo optimizer (classic, Shampoo², or any root p) over parameter groups, on MKL or OpenBLAS.</summary>
/// <remarks>
/// <para>One <see cref="Step"/> at step t = <see cref="StepCount"/> + 1, each parameter with its group's options, learning
/// rate η = η₀·<c>Schedule.Factor(t)</c> (η₀ the group's base rate, <see cref="GetLearningRate"/>: its options'
/// <c>LearningRate</c> until <see cref="SetLearningRate"/> changes it) and start step t₀ = <c>EffectiveStartPreconditioningStep</c>:</para>
/// <list type="number">
/// <item>(a) Check every gradient: a wrong length or values overlapping the gradient throw <see cref="ArgumentException"/>,
/// disposed memory <see cref="ObjectDisposedException"/>; a NaN/±∞ anywhere skips the
/// whole step (<see cref="OptimizerStatistics.SkippedSteps"/> + 1, result names the parameter). Nothing changes before
/// all gradients passed. Then the step is certified finite from bounds known before anything changes (below), or run
/// checked.</item>
/// <item>(b) Statistics. A matrix (rank ≥ 2, merged to <c>MatrixRows</c>×<c>MatrixCols</c>) is cut into blocks of at
/// most <c>MaxPreconditionerDim</c> per side; per block L ← β₂L + (1−β₂)GGᵀ, R ← β₂R + (1−β₂)GᵀG (β₂ = 1: plain sums).
/// A vector keeps v ← β₂v + (1−β₂)g². The grafting accumulator a ← β_g·a + (1−β_g)g² (Adagrad: a ← a + g²).</item>
/// <item>(c) If t ≥ t₀ and (t = t₀ or t mod <c>PreconditionFrequency</c> = 0): every block's roots
/// Ľ = (L/c₂ + εI)^{-1/p}, Ř = (R/c₂ + εI)^{-1/p} from its eigendecomposition with eigenvalues clamped at 0, in fp64,
/// c₂ = 1 − β₂ᵗ with <c>BiasCorrection</c> and β₂ &lt; 1, else 1. Blocks that dominate the model's refresh work
/// (with a side of at least <c>DominantRefreshMinDim</c>) or have a side of at least <c>ThreadedRefreshMinDim</c> are
/// refreshed one at a time with every BLAS thread, the others in parallel (at most <c>RefreshParallelism</c> at once)
/// with one BLAS thread each; results do not depend on the parallelism or the number of ranks.
/// A block whose root fails keeps its previous roots and its ε grows; the failure is
/// counted in <see cref="OptimizerStatistics.FailedRootBlocks"/>, logged, and reported in the step's message.</item>
/// <item>(d) Directions D. Before t₀: the grafting method's own step (G for None and Sgd, G / (√(a/c_g) + ε_g)
/// elementwise otherwise, c_g = 1 − β_gᵗ for Adam only). From t₀: per block D = s·Ľ·G·Ř with s = (Tr L/c₂)^{1/p} when
/// <c>TraceNormalized</c>, else 1; a vector uses D = g / (√(v/c₂) + ε_diag). Distributed, each rank computes the
/// blocks it owns.</item>
/// <item>(e) Exchange of directions (distributed only): every rank receives every block's D from its owner.</item>
/// <item>(f) Grafting: per block the scale σ = ‖P‖_F / ‖D‖_F, P the grafting step on the same block (P = G for Sgd;
/// σ = 1 for None and before t₀), kept for (g); a block with D = 0 gets σ = 0.</item>
/// <item>(g) Update with D ← σ·D applied as D is read: momentum, β₁ &gt; 0: m ← β₁m + (1−β₁)D, c₁ = 1 − β₁ᵗ with
/// <c>BiasCorrection</c> (else 1); U = m/c₁, or with Nesterov U = β₁m/c₁ + (1−β₁)D; with β₁ = 0, U = D. Then decoupled
/// weight decay and the update in the same pass: W ← W·(1 − η·λ) − η·U.</item>
/// </list>
/// <para>With <see cref="ShampooOptions.Preconditioner"/> = <see cref="PreconditionerType.EigenvalueCorrected"/> (SOAP)
/// a parameter runs SOAP's algorithm instead of (b)–(g), in the same stages (its formulas are in that property's
/// remarks); such a parameter cannot be distributed.</para>
/// <para>Finite state: no step leaves a parameter or any state NaN or ±∞, whatever option value validation accepts
/// (a learning rate or weight decay of 1e300, p = 10⁻³) and whatever finite gradient comes in. Before (b), bounds
/// known without changing anything (max |g| from the finiteness pass, max |W|, a bound of max |m|, the grafting step's
/// per-element bound, and without grafting the roots' norms, new roots being bounded by ε^{-1/p}) certify the step;
/// normal training is always certified and runs as described. A step that is not certified runs against a snapshot of
/// the whole state; if anything came out non-finite the snapshot is restored (counters and log included) and the step
/// is not applied: <see cref="OptimizerStatistics.SkippedSteps"/> + 1, <see cref="StepResult.Applied"/> false, the
/// message names the tensor. Within the stages, a refresh whose direction scale is not a positive finite value of the
/// factor precision fails like any root; a grafted block whose direction overflowed, or whose grafting scale would,
/// stays zero like a zero direction; ε growth stops at the largest double; Kronecker statistics that would leave the
/// factor precision's range are kept as 2^e times the stored factors (<see cref="KroneckerFactors{T}.Exponent"/>; the
/// same operator, counted in <see cref="OptimizerStatistics.RescaledBlocks"/> and logged), so fp32 blocks fed
/// gradients near 1e20 keep refreshing.</para>
/// <para>Momentum is applied to the preconditioned, grafted direction, where DS applies its <c>momentum</c>: the average
/// is over steps of the size grafting chose, and each direction uses the current gradient with the current statistics.
/// DS's other first moment (β₁ "filtered gradient" before preconditioning) is not offered. Weight decay is AdamW-style,
/// outside momentum (DS adds λW to the direction before its momentum).</para>
/// <para>Parameters are fp32 or fp64 (<see cref="Parameter.ElementType"/>), over arrays, <see cref="Memory{T}"/> or
/// native memory, read and written in place. Everything in (b)–(g) runs in <c>FactorPrecision</c> (grafting and
/// diagonal accumulators in fp64); an fp32 W is rounded to fp32 once per step, an fp64 W is updated in fp64. After the
/// first refresh no step allocates managed memory, refresh steps included (distributed ones too: outcomes travel as
/// numbers): the refresh scheduler keeps persistent helper threads, and the pooled LAPACK workspaces rented on first
/// use are reused.</para>
/// <para>Distributed (a communicator of more than one rank): the caller gives every rank the same gradients (e.g. the
/// mean over ranks, <c>Distributed.DataParallelGradients</c>). Every Kronecker block has one owner rank
/// (<see cref="BlockOwnership"/>, largest m³ + n³ first), which alone accumulates its L and R, refreshes its roots and
/// computes its direction; then all ranks gather every block's direction (AllGatherV of bytes, blocks in the order
/// of <see cref="Parameters"/> and of each parameter's blocks), and every rank grafts, applies momentum and updates
/// all parameters itself. Vectors, grafting accumulators and momentum are kept on every rank. Each block's
/// direction is computed by exactly the code a single process runs, so the parameters stay bit-identical on all
/// ranks, and equal a single process's given bit-identical gradients and BLAS thread counts. Step is then
/// collective: every rank must call it. Statistics of blocks a rank does not own stay stale there (allocated but
/// unused); <see cref="GatherState"/> brings them up to date for a checkpoint. Every rank learns every block's refresh
/// outcome, so <see cref="Statistics"/> counts and logs agree on all ranks; its refresh time includes waiting for the
/// slowest owner.</para>
/// </remarks>
public sealed class Shampoo : ICheckpointable, IExclusiveOptimizer
{
    /// <summary>The value of <see cref="CheckpointKind"/>.</summary>
    public const string Kind = "Shampoo";

    private readonly ParameterRegistry<ShampooOptions> registry;
    private readonly ShampooParameterState[] states;
    private readonly BlasBackend? blas;
    private readonly KroneckerBlockTable blocks;
    private readonly int[] refreshQueue;
    private readonly RootRefreshResult[] refreshResults;
    private readonly int[] localQueue;
    private readonly RootRefreshResult[] localResults;
    private readonly string[] signature;
    private readonly BlockPlacement placement;
    private readonly bool[] precondition;
    private readonly double[] graftScales;
    private readonly int[] graftScaleStart;
    private readonly ExclusiveUse exclusive = new(nameof(Shampoo));
    private RefreshScheduler? scheduler;
    private readonly Func<int, (int Rows, int Cols)> localShape;
    private readonly Func<int, RootRefreshResult> localRefresh;
    private readonly Func<int, int, bool> localThreaded;
    private bool stateGathered = true;
    private bool disposed;

    /// <summary>Shampoo over <paramref name="parameters"/>, all with the same options.</summary>
    /// <param name="parameters">The parameters, in checkpoint order; names must be unique.</param>
    /// <param name="options">The options; null means <see cref="ShampooOptions.Shampoo"/>.</param>
    /// <param name="blas">The BLAS backend; null means <see cref="BlasBackend.Default"/>.</param>
    /// <param name="communicator">The ranks sharing the blocks' work; null (or a single rank) computes everything here.</param>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name.</exception>
    public Shampoo(IReadOnlyList<Parameter> parameters, ShampooOptions? options = null, BlasBackend? blas = null, ICommunicator? communicator = null)
        : this([new ParameterGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], options, blas, communicator)
    {
    }

    /// <summary>Shampoo over parameter groups, each with <paramref name="defaults"/> and its own override of them.</summary>
    /// <param name="groups">The groups; their parameters, in order, are <see cref="Parameters"/>.</param>
    /// <param name="defaults">The default options, which each group's override edits, and the source of
    /// <see cref="ShampooOptions.RefreshParallelism"/>; null means <see cref="ShampooOptions.Shampoo"/>.</param>
    /// <param name="blas">The BLAS backend; null means <see cref="BlasBackend.Default"/>.</param>
    /// <param name="communicator">The ranks sharing the blocks' work (every rank must build the same optimizer over the
    /// same shapes); null (or a single rank) computes everything here, exactly as without one.</param>
    /// <exception cref="ArgumentException">Invalid options, no parameters, a duplicate parameter or name, or a group
    /// override that changes <see cref="ShampooOptions.RefreshParallelism"/>, <see cref="ShampooOptions.DominantRefreshMinDim"/>
    /// or <see cref="ShampooOptions.ThreadedRefreshMinDim"/> (process-level: set them on <paramref name="defaults"/>).</exception>
    /// <exception cref="NotSupportedException">Distributed, with more than 2 GiB of directions to exchange per step, or with
    /// a group using the eigenvalue-corrected (SOAP) preconditioner.</exception>
    public Shampoo(IReadOnlyList<ParameterGroup<ShampooOptions>> groups, ShampooOptions? defaults = null, BlasBackend? blas = null,
        ICommunicator? communicator = null)
    {
        this.blas = blas;
        registry = new ParameterRegistry<ShampooOptions>(groups, defaults ?? ShampooOptions.Shampoo, o => o.Validate(), o => o.LearningRate, o => o.Schedule);
        RefuseProcessLevelOverrides(registry);
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

        var distributed = communicator is { Size: > 1 } ? communicator : null;
        if (distributed is not null && registry.GroupOptions.Any(o => o.IsEigenvalueCorrected))
        {
            Dispose();
            throw new NotSupportedException(
                "The eigenvalue-corrected (SOAP) preconditioner is not available distributed: run it on one rank, or use Preconditioner = Shampoo.");
        }

        var d = registry.Defaults;
        var policy = new RefreshPolicy(d.ThreadedRefreshMinDim, KroneckerBlockTable.ShapesOf(states), d.DominantRefreshMinDim);
        blocks = new KroneckerBlockTable(states, distributed?.Size ?? 1, policy);
        refreshQueue = new int[blocks.Count];
        refreshResults = new RootRefreshResult[refreshQueue.Length];
        localQueue = new int[refreshQueue.Length];
        localResults = new RootRefreshResult[refreshQueue.Length];
        // Created once: a lambda at the call site would allocate two delegates per refresh step.
        localShape = k => (blocks[refreshQueue[localQueue[k]]].Area.Rows, blocks[refreshQueue[localQueue[k]]].Area.Cols);
        localThreaded = (k, threads) => blocks.IsThreaded(refreshQueue[localQueue[k]], threads);
        localRefresh = k => states[blocks[refreshQueue[localQueue[k]]].Parameter].RefreshBlock(blocks[refreshQueue[localQueue[k]]].Block);
        precondition = new bool[states.Length];
        graftScaleStart = new int[states.Length];
        var scales = 0;
        for (var i = 0; i < states.Length; i++)
        {
            graftScaleStart[i] = scales;
            scales += states[i].GraftScaleCount;
        }

        graftScales = new double[scales];
        placement = new BlockPlacement(states, blocks, distributed);
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

    /// <inheritdoc />
    public double CurrentLearningRate => GetCurrentLearningRate(0);

    /// <inheritdoc />
    public double GetCurrentLearningRate(int group) => registry.RateAt(group, StepCount + 1);

    /// <inheritdoc />
    public int GroupCount => registry.GroupCount;

    /// <inheritdoc />
    public double GetLearningRate(int group) => registry.GetLearningRate(group);

    /// <inheritdoc />
    public void SetLearningRate(int group, double learningRate)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        registry.SetLearningRate(group, learningRate);
    }

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
    public double LearningRateOf(Parameter parameter) => LearningRate(IndexOf(parameter), StepCount + 1);

    /// <summary>The preconditioner of <paramref name="parameter"/>: a <see cref="BlockedShampooPreconditioner{T}"/> for a
    /// matrix, a <see cref="DiagonalPreconditioner"/> for a vector. For inspection; updating it directly desynchronises the optimizer.
    /// Distributed, only the blocks this rank owns are current (all of them right after <see cref="GatherState"/>).</summary>
    /// <exception cref="InvalidOperationException">The parameter uses the eigenvalue-corrected (SOAP) preconditioner, whose
    /// Adam moments change with every direction, so it has no stand-alone <see cref="IPreconditioner"/>; read its state
    /// with <see cref="ExportState"/>.</exception>
    public IPreconditioner PreconditionerOf(Parameter parameter) => states[IndexOf(parameter)].Preconditioner;

    /// <summary>The communicator the blocks are shared over; null when this process computes every block.</summary>
    public ICommunicator? Communicator => placement.Communicator;

    /// <summary>Which rank owns each Kronecker block (blocks numbered over <see cref="Parameters"/> in order, each
    /// parameter's blocks in <see cref="BlockedShampooPreconditioner{T}.Layout"/> order); null when not distributed.</summary>
    public BlockOwnership? Ownership => placement.Ownership;

    /// <inheritdoc />
    ExclusiveUse IExclusiveOptimizer.Exclusive => exclusive;

    /// <summary>The refresh scheduler's knobs act on the whole optimizer, so a group override that changes one would be
    /// silently ignored: refuse it instead, naming the group.</summary>
    /// <exception cref="ArgumentException">A group's options differ from the defaults in a process-level knob.</exception>
    private static void RefuseProcessLevelOverrides(ParameterRegistry<ShampooOptions> registry)
    {
        var d = registry.Defaults;
        for (var g = 0; g < registry.GroupOptions.Count; g++)
        {
            var o = registry.GroupOptions[g];
            if (o.RefreshParallelism != d.RefreshParallelism || o.DominantRefreshMinDim != d.DominantRefreshMinDim
                || o.ThreadedRefreshMinDim != d.ThreadedRefreshMinDim)
            {
                throw new ArgumentException(
                    $"Parameter group {g}: {nameof(ShampooOptions.RefreshParallelism)}, {nameof(ShampooOptions.DominantRefreshMinDim)} and {nameof(ShampooOptions.ThreadedRefreshMinDim)} apply to the whole optimizer; set them on the default options, not in a group's override.",
                    "groups");
            }
        }
    }

    /// <summary>Schedules the root refreshes; created on first use (tests read its counters and set its hook).</summary>
    /// <remarks>Which blocks run threaded is decided over every block of the model, on every rank alike, whichever blocks a
    /// step refreshes or this rank owns.</remarks>
    internal RefreshScheduler Scheduler => scheduler ??= new RefreshScheduler(
        blas ?? BlasBackend.Default, registry.Defaults.EffectiveRefreshParallelism, blocks.Policy);

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">Another call (a step, a checkpoint export/import/save/load, a
    /// dispose) is running on another thread; nothing changes.</exception>
    public StepResult Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        // An optimizer is not thread-safe; a second Step, a checkpoint or a Dispose meanwhile would read a torn state or
        // free or overwrite native state that BLAS is still using, so each is refused rather than left to corrupt it.
        using var use = exclusive.Enter("Step", isStep: true);
        registry.BeginStep(); // refuses SetLearningRate until the step ends
        try
        {
            return StepExclusive();
        }
        finally
        {
            registry.EndStep();
        }
    }

    /// <summary>The stages of one step, in the order of the class remarks (a)–(g).</summary>
    private StepResult StepExclusive()
    {
        var started = Stopwatch.GetTimestamp();
        var step = StepCount + 1;
        var bad = CheckGradients();
        if (bad >= 0)
        {
            Statistics.SkippedSteps++;
            return new StepResult(false, false, registry.SkipMessage(bad, step));
        }

        registry.PrepareRates(step);
        if (!UpdateIsCertainlyFinite(step))
        {
            return StepChecked(step, started);
        }

        var (pending, message, refreshTime) = RunStages(step);
        foreach (var state in states)
        {
            state.AdvanceBounds();
        }

        StepCount = step;
        Statistics.StepTime += Stopwatch.GetElapsedTime(started) - refreshTime;
        return new StepResult(true, pending > 0, message);
    }

    /// <summary>(b)–(g): statistics, roots, directions, exchange, grafting, update; returns how many blocks refreshed,
    /// the first failure's or rescale's message and the refresh time.</summary>
    private (int Pending, string? Message, TimeSpan RefreshTime) RunStages(long step)
    {
        var rescaled = AccumulateStatistics(step);
        var (pending, message, refreshTime) = RefreshRoots(step);
        ComputeDirections(step);
        ExchangeDirections();
        Graft();
        Update(step);
        return (pending, message ?? rescaled, refreshTime);
    }

    /// <summary>Whether bounds known before anything changes prove that this step leaves every state finite (always so
    /// in normal training; see <see cref="ShampooParameterState.UpdateIsCertainlyFinite"/>).</summary>
    private bool UpdateIsCertainlyFinite(long step)
    {
        var magnitudes = registry.GradientMagnitudes;
        for (var s = 0; s < states.Length; s++)
        {
            var o = states[s].Options;
            if (!states[s].UpdateIsCertainlyFinite(step, step >= o.EffectiveStartPreconditioningStep,
                    states[s].IsRefreshStep(step), registry.StepRateOf(s), magnitudes[s], placement.OwnedBlocks(s)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A step the bounds could not certify: run with a snapshot of the whole state, and if any parameter or
    /// state came out non-finite, restore the snapshot (counters and log included) and report the step as not applied.</summary>
    /// <remarks>Allocates (the snapshot); only steps near the floating-point range take this path. Distributed, every
    /// rank decides from the same values (parameters, momentum and accumulators are identical on all ranks, and the
    /// blocks' statistics and roots stay finite by construction), so all ranks agree.</remarks>
    private StepResult StepChecked(long step, long started)
    {
        var snapshot = ExportLocal();
        var gathered = stateGathered;
        var saved = (Statistics.RootRefreshes, Statistics.RefreshedBlocks, Statistics.FailedRootBlocks, Statistics.RescaledBlocks,
            Statistics.RefreshTime, Log: Statistics.Log.ToArray());
        var (pending, message, refreshTime) = RunStages(step);
        string? broken = null;
        foreach (var t in ExportLocal())
        {
            if (!FiniteCheck.All<double>(t.Data))
            {
                broken = t.Name;
                break;
            }
        }

        if (broken is not null)
        {
            Apply(snapshot);
            stateGathered = gathered;
            (Statistics.RootRefreshes, Statistics.RefreshedBlocks, Statistics.FailedRootBlocks, Statistics.RescaledBlocks,
                Statistics.RefreshTime, _) = saved;
            Statistics.ReplaceLog(saved.Log);
            Statistics.SkippedSteps++;
            var refused = string.Create(CultureInfo.InvariantCulture,
                $"Step {step} not applied: its update would have made '{broken}' NaN or infinite (check the learning rate, weight decay, root p and ε); no state was changed.");
            Statistics.AddLog(refused);
            return new StepResult(false, false, refused);
        }

        foreach (var state in states)
        {
            state.MeasureBounds();
        }

        StepCount = step;
        Statistics.StepTime += Stopwatch.GetElapsedTime(started) - refreshTime;
        return new StepResult(true, pending > 0, message);
    }

    /// <summary>(a) Throws for unusable buffers; the index of the first parameter with a non-finite gradient, or −1.</summary>
    private int CheckGradients() => registry.CheckGradients();

    /// <summary>(b) Every parameter's statistics; distributed, the Kronecker factors of the owned blocks only. Returns
    /// the message of the first block whose statistics had to be rescaled to stay finite (counted and logged), or null.</summary>
    private string? AccumulateStatistics(long step)
    {
        stateGathered = !placement.IsDistributed;
        var magnitudes = registry.GradientMagnitudes;
        string? first = null;
        for (var s = 0; s < states.Length; s++)
        {
            states[s].AccumulateStatistics(placement.OwnedBlocks(s), magnitudes[s]);
            var rescaled = states[s].Rescaled;
            for (var b = 0; b < states[s].BlockCount; b++)
            {
                if (rescaled[b] != 0)
                {
                    Statistics.RescaledBlocks++;
                    var entry = string.Create(CultureInfo.InvariantCulture,
                        $"Step {step}: parameter '{states[s].Parameter.Name}' block {b}: statistics scale raised by 2^{rescaled[b]} to stay finite in {states[s].Options.FactorPrecision} (gradient max |g| = {magnitudes[s]:G3})");
                    Statistics.AddLog(entry);
                    first ??= entry;
                }
            }
        }

        return first;
    }

    /// <summary>The blocks whose roots this step refreshes, into <see cref="refreshQueue"/>; returns their number.</summary>
    private int QueueRefreshes(long step)
    {
        var pending = 0;
        for (var s = 0; s < states.Length; s++)
        {
            if (states[s].IsRefreshStep(step))
            {
                for (var b = 0; b < blocks.BlockCount(s); b++)
                {
                    refreshQueue[pending++] = blocks.FirstBlock(s) + b;
                }
            }
        }

        return pending;
    }

    /// <summary>(d) Every parameter's direction before grafting (the owned blocks', distributed).</summary>
    private void ComputeDirections(long step)
    {
        for (var s = 0; s < states.Length; s++)
        {
            precondition[s] = step >= states[s].Options.EffectiveStartPreconditioningStep;
            states[s].ComputeDirection(precondition[s], placement.OwnedBlocks(s));
        }
    }

    /// <summary>(e) Distributed: every rank receives every block's direction from its owner.</summary>
    private void ExchangeDirections() => placement.ExchangeDirections(precondition);

    /// <summary>(f) Every block's grafting scale, into <see cref="graftScales"/>.</summary>
    private void Graft()
    {
        for (var s = 0; s < states.Length; s++)
        {
            states[s].ComputeGraftScales(precondition[s], graftScales.AsSpan(graftScaleStart[s], states[s].GraftScaleCount));
        }
    }

    /// <summary>(g) Momentum, weight decay and the update of every parameter, the grafting scales applied as directions are read.</summary>
    private void Update(long step)
    {
        for (var s = 0; s < states.Length; s++)
        {
            states[s].Update(step, precondition[s], registry.StepRateOf(s),
                graftScales.AsSpan(graftScaleStart[s], states[s].GraftScaleCount));
        }
    }

    /// <summary>(c) Refreshes the roots of the blocks due this step (the owned ones here, distributed) and learns every
    /// block's outcome; returns how many blocks were due, the first failure's message and the time taken.</summary>
    private (int Pending, string? Message, TimeSpan Elapsed) RefreshRoots(long step)
    {
        var pending = QueueRefreshes(step);
        if (pending == 0)
        {
            return (0, null, TimeSpan.Zero);
        }

        var started = Stopwatch.GetTimestamp();
        var mine = 0;
        for (var i = 0; i < pending; i++)
        {
            if (placement.Owns(refreshQueue[i]))
            {
                localQueue[mine++] = i;
            }
        }

        if (mine > 0)
        {
            Scheduler.Run(mine, localShape, localThreaded, localRefresh, localResults);
        }

        for (var k = 0; k < mine; k++)
        {
            refreshResults[localQueue[k]] = localResults[k];
        }

        // Every rank learns every block's outcome, so counters and logs (and checkpoints) agree everywhere.
        placement.ExchangeRefreshResults(refreshQueue.AsSpan(0, pending), refreshResults);
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
                var (s, b) = (blocks[refreshQueue[i]].Parameter, blocks[refreshQueue[i]].Block);
                var entry = string.Create(CultureInfo.InvariantCulture,
                    $"Step {step}: parameter '{states[s].Parameter.Name}' block {b}: {result.Detail ?? "root computation failed"}");
                Statistics.AddLog(entry);
                first ??= entry;
            }
        }

        return (pending, first, elapsed);
    }

    private double LearningRate(int index, long step) => registry.RateAt(registry.GroupOf(index), step);

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
    public string DescribeOptions() => registry.DescribeOptions();

    /// <inheritdoc />
    /// <remarks>Names: <c>step</c>, <c>learningRates</c> (every group's base rate), then per parameter <c>{name}/value</c>, <c>{name}/momentum</c> (β₁ &gt; 0),
    /// <c>{name}/shampoo.block{k}.{L,R,Lroot,Rroot,Lbasis,Rbasis,updates,refreshes,failedRefreshes,epsilon,scale,hasRoots,statisticsExponent}</c>
    /// for a matrix or <c>{name}/diagonal.{v,updates}</c> for a vector, and <c>{name}/grafting.{v,updates}</c>; a SOAP
    /// parameter has <c>{name}/value</c> and <c>{name}/soap.{L,R,Lbasis,Rbasis,firstMoment,secondMoment,updates,adamSteps,hasBasis}</c>
    /// (the factors and bases of rotated sides only).
    /// Distributed, the same tensors a single process would export, on any rank, once <see cref="GatherState"/> ran on
    /// every rank after the last step.</remarks>
    /// <exception cref="InvalidOperationException">Distributed, and blocks changed on their owners since the last
    /// <see cref="GatherState"/>; or a step (or an import) is running on another thread.</exception>
    public IReadOnlyList<StateTensor> ExportState()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var use = exclusive.Enter("ExportState");
        if (!stateGathered)
        {
            throw new InvalidOperationException(
                "This rank holds only the blocks it owns: call GatherState() on every rank before exporting " +
                "(DistributedCheckpoint.Save does), or the checkpoint would hold other ranks' blocks as they were.");
        }

        return ExportLocal();
    }

    /// <summary>Collective: brings every Kronecker block's state from its owner to every rank, so that
    /// <see cref="ExportState"/> on any rank returns what a single process would. A no-op when not distributed.</summary>
    /// <remarks>One broadcast of each block's tensors from its owner; transient memory is one block's state.</remarks>
    /// <exception cref="InvalidOperationException">A step (or a checkpoint call) is running on another thread.</exception>
    public void GatherState()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var use = exclusive.Enter("GatherState");
        placement.GatherBlockStates();
        stateGathered = true;
    }

    private List<StateTensor> ExportLocal()
    {
        var all = new List<StateTensor> { StateTensor.Scalar(StateTransfer.StepName, StepCount), registry.ExportLearningRates() };
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
        using var use = exclusive.Enter("ImportState");
        // Not collective: every rank loads the complete state (of any rank count) and keeps it all; the blocks it does
        // not own are simply never read until the next GatherState overwrites them.
        StateTransfer.ImportAllOrNothing(ExportLocal(), state, Apply);
        stateGathered = true;
    }

    private void Apply(IReadOnlyList<StateTensor> state)
    {
        var step = StateTransfer.Counter(state, StateTransfer.StepName);
        registry.CheckImportedLearningRates(state);
        foreach (var s in states)
        {
            s.Import(StateTransfer.Under(state, s.Parameter.Name + "/"));
        }

        registry.ImportLearningRates(state);

        StepCount = step;
    }

    /// <summary>Frees every preconditioner and buffer; the parameters stay usable.</summary>
    /// <exception cref="InvalidOperationException">A step or a checkpoint call is running on another thread (nothing is freed).</exception>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        using var use = exclusive.Enter("Dispose");
        disposed = true;
        scheduler?.Dispose();
        foreach (var state in states)
        {
            state?.Dispose();
        }
    }
}
