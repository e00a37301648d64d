using System.Globalization;
using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Every setting of the <see cref="Optim.Shampoo"/> optimizer, immutable, with Distributed Shampoo's names and (mostly) its defaults.</summary>
/// <remarks>
/// To train, start from <see cref="RecommendedShampooSquared"/> (or <see cref="RecommendedShampoo"/>) and change what
/// you need with <c>with { … }</c>. The plain constructor, <see cref="Shampoo"/> and <see cref="ShampooSquared"/> carry
/// Distributed Shampoo's defaults (Adagrad grafting, β₂ = 1, ε = 1e-12) for research and for reproducing the paper's
/// algorithms; they adapt slowly on badly scaled problems. Where a default differs from Distributed Shampoo (DS) the
/// property says so and why. <see cref="Validate"/> runs in the optimizer's constructor; an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the property.
/// </remarks>
public sealed record ShampooOptions
{
    /// <summary>Research preset: classic Shampoo (Gupta et al. 2018), L^{-1/4}·G·R^{-1/4}, with DS's defaults
    /// (Adagrad grafting, β₂ = 1, ε = 1e-12, η = 0.01). To train a model, prefer <see cref="RecommendedShampoo"/>.</summary>
    public static ShampooOptions Shampoo { get; } = new();

    /// <summary>Research preset: Shampoo² (Morwani et al.), √Tr(H)·L^{-1/2}·G·R^{-1/2}, i.e. <see cref="Root"/> 2 with
    /// <see cref="TraceNormalized"/>, otherwise DS's defaults as <see cref="Shampoo"/>. To train a model, prefer
    /// <see cref="RecommendedShampooSquared"/>.</summary>
    public static ShampooOptions ShampooSquared { get; } = new() { Root = 2, TraceNormalized = true };

    /// <summary>The preset to train with: Shampoo² (p = 2, trace-normalised) with Adam grafting, β₂ = 0.999, ε = 1e-4,
    /// roots every 10 steps, η = 5e-3 (an Adam-scale rate, because Adam grafting sets the step's size), no weight decay;
    /// the rest as the defaults (momentum β₁ = 0.9, bias correction, fp64 statistics).</summary>
    /// <remarks>Why these values: the β₂ = 0.999 EMA forgets the first, large gradients, which plain sums (β₂ = 1) never
    /// do, so the preconditioner follows a loss whose curvature changes; Adam grafting gives each block Adam's step size,
    /// which is robust to the scale of the inputs. ε is far above DS's 1e-12 on purpose: with p = 2 the root amplifies a
    /// factor's small eigenvalues as λ^{-1/2}, so directions the gradients never reach (e.g. an image's always-black
    /// border pixels give R exact zero eigenvalues) would otherwise be dominated by rounding noise; ε = 1e-4 keeps
    /// roughly the directions within 10⁴ of a factor's top eigenvalue preconditioned. Tune η first (as for Adam), then ε
    /// if the gradients are very small or very large.</remarks>
    public static ShampooOptions RecommendedShampooSquared { get; } = new()
    {
        Root = 2,
        TraceNormalized = true,
        LearningRate = 5e-3,
        Grafting = GraftingType.Adam,
        Beta2 = 0.999,
        Epsilon = 1e-4,
        PreconditionFrequency = 10,
        WeightDecay = 0,
    };

    /// <summary>Classic Shampoo (p = 4) to train with: Adam grafting, β₂ = 0.999, ε = 1e-6, roots every 10 steps,
    /// η = 3e-3, no weight decay; see <see cref="RecommendedShampooSquared"/> for why.</summary>
    /// <remarks>ε is smaller than Shampoo²'s because the p = 4 root amplifies small eigenvalues only as λ^{-1/4}.</remarks>
    public static ShampooOptions RecommendedShampoo { get; } = RecommendedShampooSquared with
    {
        Root = 4,
        TraceNormalized = false,
        LearningRate = 3e-3,
        Epsilon = 1e-6,
    };

    /// <summary>The SOAP preset (eigenvalue-corrected Shampoo, Vyas et al. 2024) with SOAP's defaults: η = 3e-3,
    /// β₁ = β₂ = 0.95 (Adam's moments), statistics β = β₂, ε = 1e-8, weight decay 0.01, bases refreshed every 10 steps
    /// by one power step, sides longer than 10000 not rotated, bias correction, fp64, no grafting.</summary>
    /// <remarks>In this mode <see cref="Beta1"/>, <see cref="Beta2"/> and <see cref="Epsilon"/> are Adam's β₁, β₂ and ε
    /// in the rotated space and <see cref="ShampooBeta"/> is the statistics' β; see <see cref="Preconditioner"/>.</remarks>
    public static ShampooOptions RecommendedSoap { get; } = new()
    {
        Preconditioner = PreconditionerType.EigenvalueCorrected,
        LearningRate = 3e-3,
        Beta1 = 0.95,
        Beta2 = 0.95,
        Epsilon = 1e-8,
        WeightDecay = 0.01,
        PreconditionFrequency = 10,
        MaxPreconditionerDim = 10000,
        Grafting = GraftingType.None,
    };

    /// <summary>Base learning rate η (before <see cref="Schedule"/>); default 0.01 (DS's default, an Adagrad-scale rate
    /// because the default grafting is Adagrad).</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>Multiplier on <see cref="LearningRate"/> per step; default <see cref="LearningRateSchedule.Constant"/>.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Momentum β₁ in [0, 1): m ← β₁·m + (1−β₁)·d on the grafted direction d; 0 disables it. Default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Nesterov momentum: step along β₁·m̂ + (1−β₁)·d instead of m̂; needs <see cref="Beta1"/> &gt; 0. Default false.</summary>
    public bool Nesterov { get; init; }

    /// <summary>β₂ in (0, 1] of the statistics: L ← β₂·L + (1−β₂)·G·Gᵀ; 1 (default, as DS) keeps plain sums like Adagrad.</summary>
    public double Beta2 { get; init; } = 1.0;

    /// <summary>ε ≥ 0 added to the clamped eigenvalues of L and R before the root; default 1e-12 (DS's value, though DS
    /// adds it after trace scaling and shifts the eigenvalues only when λ_min &lt; ε).</summary>
    /// <remarks>Relative to the eigenvalues of Σ G·Gᵀ, so it is a regulariser only for directions never seen by the
    /// gradients; it grows per block by <see cref="EpsilonGrowthOnFailure"/> after a failed root.</remarks>
    public double Epsilon { get; init; } = 1e-12;

    /// <summary>Decoupled (AdamW-style) weight decay λ ≥ 0: W ← W − η·λ·W each step, outside momentum and grafting. Default 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Largest side of a preconditioner block; matrices are cut into blocks of at most this size. Default 1024 (DS).</summary>
    public int MaxPreconditionerDim { get; init; } = 1024;

    /// <summary>Roots are recomputed every this many steps (after the start step). Default 10.</summary>
    /// <remarks>DS defaults to 1, which on a CPU makes the O(d³) eigendecompositions dominate a step; 10 amortises them
    /// while the statistics (sums) change little between refreshes.</remarks>
    public int PreconditionFrequency { get; init; } = 10;

    /// <summary>First step (1-based) that uses Shampoo; before it the grafting direction alone is used (the raw gradient
    /// with no grafting). Roots are computed at this step and at every multiple of <see cref="PreconditionFrequency"/>
    /// after it. Default null: the same as <see cref="PreconditionFrequency"/> (DS's −1).</summary>
    public int? StartPreconditioningStep { get; init; }

    /// <summary>The root p in L^{-1/p}; any positive number (4 = Shampoo, default; 2 = Shampoo²).</summary>
    public double Root { get; init; } = 4;

    /// <summary>Scale the direction by Tr(H)^{1/p}, approximating H by (L⊗R / Tr H)^{2/p} (Shampoo²). Default false.</summary>
    public bool TraceNormalized { get; init; }

    /// <summary>Per-block learning-rate grafting; default <see cref="GraftingType.Adagrad"/>.</summary>
    /// <remarks>DS defaults to none, but its documentation calls grafting the key ingredient for Shampoo in practice;
    /// Adagrad matches the default β₂ = 1 statistics.</remarks>
    public GraftingType Grafting { get; init; } = GraftingType.Adagrad;

    /// <summary>ε of the grafting method, added to √v; null (default) means 1e-10 for Adagrad and 1e-8 (PyTorch Adam's
    /// ε) for RMSprop and Adam. Only valid with those three.</summary>
    /// <remarks>Distributed Shampoo's default has been 1e-10 for all three since 2024-10; set 1e-10 to match it.</remarks>
    public double? GraftingEpsilon { get; init; }

    /// <summary>β of the grafting method's second moment; null (default) means DS's default for the type:
    /// 0.99 for RMSprop, 0.999 for Adam. Only valid with those two (Adagrad always sums).</summary>
    public double? GraftingBeta2 { get; init; }

    /// <summary>Bias correction of the EMAs: momentum (m / (1 − β₁ᵗ)) and statistics (L / (1 − β₂ᵗ)). Default true.</summary>
    /// <remarks>This flag couples two things Distributed Shampoo keeps apart: DS's momentum on the preconditioned
    /// direction is classic (M ← μM + (1 − dampening)P, never bias-corrected), and its <c>use_bias_correction</c> applies
    /// to its filtered gradient and the β₂ statistics. Our steps equal DS's only with <c>false</c> here and DS's dampening
    /// equal to <see cref="Beta1"/>. Adam grafting is always bias-corrected and RMSprop grafting never is (as in DS); this
    /// flag does not change them.</remarks>
    public bool BiasCorrection { get; init; } = true;

    /// <summary>Precision of statistics, roots, direction and momentum; default <see cref="Optim.FactorPrecision.Double"/>.</summary>
    /// <remarks>DS defaults to fp32. But fp32 statistics carry rounding of about 6e-8·λ_max, so every eigenvalue below
    /// that is noise which ε = 1e-12 does not regularise and L^{-1/p} amplifies (p = 2 most). On an ill-conditioned
    /// least-squares test (TrainingTests) Shampoo² with the default ε reaches 1e-5 of the loss in fp64 and diverges in
    /// fp32. fp64 costs twice the factor memory and BLAS time; with fp32, raise <see cref="Epsilon"/> to ≳ 1e-8·λ_max.</remarks>
    public FactorPrecision FactorPrecision { get; init; } = FactorPrecision.Double;

    /// <summary>Full <c>syevd</c> at every refresh (default), a warm start from the previous eigenbasis, or the coupled Newton iteration (integer <see cref="Root"/> only).</summary>
    public InverseRootMethod RootMethod { get; init; } = InverseRootMethod.Eigendecomposition;

    /// <summary>With <see cref="InverseRootMethod.EigenbasisWarmStart"/>, every K-th refresh is a full eigendecomposition. Default 10.</summary>
    public int FullEigendecompositionEvery { get; init; } = 10;

    /// <summary>Factor ≥ 1 by which a block's ε grows after its root computation failed. Default 10.</summary>
    public double EpsilonGrowthOnFailure { get; init; } = 10;

    /// <summary>ε added to √v in the diagonal (Adagrad/RMSprop-style, β₂ = <see cref="Beta2"/>) preconditioner of 1-D
    /// parameters, which have nothing to factor. Default 1e-10 (Adagrad's).</summary>
    public double DiagonalEpsilon { get; init; } = 1e-10;

    /// <summary>Most small blocks whose roots are computed at once, each with one BLAS thread; 0 (default) means
    /// <see cref="Environment.ProcessorCount"/>. Process-level: read from the optimizer's default options; a group override
    /// that changes it is refused (as for <see cref="DominantRefreshMinDim"/> and <see cref="ThreadedRefreshMinDim"/>).</summary>
    /// <remarks>Results do not depend on it: see <see cref="DominantRefreshMinDim"/>.</remarks>
    public int RefreshParallelism { get; init; }

    /// <summary>Blocks that dominate the refresh and have a side at least this long have their roots computed alone with
    /// every BLAS thread; every other block (unless <see cref="ThreadedRefreshMinDim"/> says otherwise) runs
    /// <see cref="RefreshParallelism"/> at a time with one BLAS thread each. Default 1 (every dominant block);
    /// <see cref="int.MaxValue"/> threads no block for dominance. Read from the optimizer's default options only.</summary>
    /// <remarks>
    /// <para>Dominant blocks are chosen once over every Kronecker block of the model, largest cost c = m³ + n³ first and
    /// only among blocks with a side of at least this: a block is dominant while c·P exceeds the summed cost of itself
    /// and every block not yet chosen (P = the BLAS threads; none with one thread). Such a block alone outlasts an even
    /// share of the remaining work, so it sets the refresh time however the rest is spread, and a second thread
    /// shortens it. Example: eight equal blocks are never dominant on two threads (2c ≤ 8c) and run two at a time on one
    /// thread each; one large block among many tiny ones is, the tiny ones are not.</para>
    /// <para>Why threading every dominant block by default: a short single-threaded phase after the dominant block costs
    /// more than it saves, and a block that dominates the refresh sets its length. Raise this floor where a second
    /// thread does not pay for small blocks; on a machine whose cores are busy with other work a threaded call waits for
    /// its slowest thread: set <see cref="int.MaxValue"/> there. Measurements behind the default are in
    /// docs/performance.md.</para>
    /// <para>A block's BLAS thread count is a function of its shape, the shapes of all blocks and the configured thread
    /// count only, because MKL and OpenBLAS round differently with 1 and 2 threads: results are bit-identical for any
    /// <see cref="RefreshParallelism"/> and any number of ranks, but changing this option, <see cref="ThreadedRefreshMinDim"/>,
    /// the model or the BLAS threads may change the last bits.</para>
    /// </remarks>
    public int DominantRefreshMinDim { get; init; } = 1;

    /// <summary>Blocks with a side at least this long always have their roots computed one at a time with every BLAS
    /// thread, dominant or not (see <see cref="DominantRefreshMinDim"/>). Default 2048, above the default
    /// <see cref="MaxPreconditionerDim"/>, so by default only dominant blocks are threaded. Read from the optimizer's
    /// default options only.</summary>
    /// <remarks>
    /// <para>Results are bit-identical for any <see cref="RefreshParallelism"/>, but changing this threshold (or the BLAS
    /// threads) may change the last bits.</para>
    /// <para>Why 2048: on a machine shared with other jobs two BLAS threads on one inverse root need not pay off even for
    /// large blocks, and two blocks side by side on one thread each are at least as fast as one after the other on two;
    /// 2048 lies above the default block size, so by default only dominance threads a block. On a dedicated machine,
    /// where a second thread does speed up one large root, set it to the order from which it does to thread large blocks
    /// that are not dominant. Measurements are in docs/performance.md.</para>
    /// </remarks>
    public int ThreadedRefreshMinDim { get; init; } = 2048;

    /// <summary>What a matrix's factors precondition with: inverse roots (<see cref="PreconditionerType.Shampoo"/>, the
    /// default) or Adam in their eigenbasis (<see cref="PreconditionerType.EigenvalueCorrected"/>, SOAP).</summary>
    /// <remarks>
    /// <para>SOAP, as Vyas et al.'s reference implementation, at step t: t = 1 only accumulates the statistics (no update);
    /// from t = 2, with k = t − 1: M ← β₁M + (1−β₁)G, G' = Q_Lᵀ·G·Q_R, V' ← β₂V' + (1−β₂)G'², N = Q_L·(M'/(√V' + ε))·Q_Rᵀ
    /// with M' = Q_Lᵀ·M·Q_R, then W ← (W − η·c·N)·(1 − η·λ), c = √(1−β₂ᵏ)/(1−β₁ᵏ) with <see cref="BiasCorrection"/>
    /// (else 1), then L ← β·L + (1−β)·G·Gᵀ, R ← β·R + (1−β)·Gᵀ·G (β = <see cref="ShampooBeta"/>). The bases Q come
    /// from the statistics before step 2 (full eigendecomposition) and before every step t with (t − 2) a positive
    /// multiple of <see cref="PreconditionFrequency"/> (<see cref="EigenbasisRefresh"/>). A matrix is not blocked: a side
    /// longer than <see cref="MaxPreconditionerDim"/> is not rotated, and a vector (or a matrix with both sides too long)
    /// is plain Adam. Grafting must be <see cref="GraftingType.None"/>; <see cref="Nesterov"/>,
    /// <see cref="StartPreconditioningStep"/>, <see cref="Root"/>, <see cref="TraceNormalized"/> and <see cref="RootMethod"/>
    /// do not apply; <see cref="FactorPrecision"/> is the precision of everything (bases included). Not available
    /// distributed.</para>
    /// </remarks>
    public PreconditionerType Preconditioner { get; init; } = PreconditionerType.Shampoo;

    /// <summary>SOAP only: how bases are refreshed after the first; default <see cref="Optim.EigenbasisRefresh.PowerStep"/> (SOAP's).</summary>
    public EigenbasisRefresh EigenbasisRefresh { get; init; } = EigenbasisRefresh.PowerStep;

    /// <summary>SOAP only: β in (0, 1) of the statistics' EMA L ← β·L + (1−β)·G·Gᵀ; null (default) means
    /// <see cref="Beta2"/> (SOAP's <c>shampoo_beta</c> = −1).</summary>
    public double? ShampooBeta { get; init; }

    /// <summary>The statistics β in force for SOAP: <see cref="ShampooBeta"/>, or <see cref="Beta2"/> when unset.</summary>
    public double EffectiveShampooBeta => ShampooBeta ?? Beta2;

    /// <summary>Whether this is the eigenvalue-corrected (SOAP) mode.</summary>
    internal bool IsEigenvalueCorrected => Preconditioner == PreconditionerType.EigenvalueCorrected;

    /// <summary>The start step in force: <see cref="StartPreconditioningStep"/>, or <see cref="PreconditionFrequency"/> when unset.</summary>
    public int EffectiveStartPreconditioningStep => StartPreconditioningStep ?? PreconditionFrequency;

    /// <summary>The grafting ε in force (see <see cref="GraftingEpsilon"/>).</summary>
    public double EffectiveGraftingEpsilon => GraftingEpsilon ?? (Grafting == GraftingType.Adagrad ? 1e-10 : 1e-8);

    /// <summary>The grafting β in force: 1 for Adagrad (and for None/Sgd, which keep no second moment).</summary>
    public double EffectiveGraftingBeta2 => Grafting switch
    {
        GraftingType.RmsProp => GraftingBeta2 ?? 0.99,
        GraftingType.Adam => GraftingBeta2 ?? 0.999,
        _ => 1.0,
    };

    /// <summary>The refresh parallelism in force (see <see cref="RefreshParallelism"/>).</summary>
    public int EffectiveRefreshParallelism => RefreshParallelism > 0 ? RefreshParallelism : Environment.ProcessorCount;

    /// <summary>Whether the grafting method keeps a second-moment accumulator.</summary>
    internal bool GraftingHasState => Grafting is GraftingType.Adagrad or GraftingType.RmsProp or GraftingType.Adam;

    /// <summary>The per-block options each <see cref="ShampooPreconditioner{T}"/> is built with.</summary>
    public ShampooPreconditionerOptions ToPreconditionerOptions() => new()
    {
        Root = Root,
        TraceNormalized = TraceNormalized,
        Epsilon = Epsilon,
        Beta2 = Beta2,
        BiasCorrection = BiasCorrection,
        RootMethod = RootMethod,
        FullEigendecompositionEvery = FullEigendecompositionEvery,
        EpsilonGrowthOnFailure = EpsilonGrowthOnFailure,
    };

    /// <summary>Throws with a clear message naming the first invalid property.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value out of its documented range.</exception>
    /// <exception cref="ArgumentException">Settings that contradict each other (e.g. Nesterov without momentum).</exception>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and ≥ 0.");
        }

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        Schedule.Validate();
        if (!(Beta1 >= 0 && Beta1 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "Momentum β₁ must be in [0, 1).");
        }

        if (Nesterov && Beta1 == 0)
        {
            throw new ArgumentException("Nesterov momentum needs Beta1 > 0.", nameof(Nesterov));
        }

        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be finite and ≥ 0.");
        }

        if (MaxPreconditionerDim < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPreconditionerDim), MaxPreconditionerDim, "Must be at least 1.");
        }

        if (PreconditionFrequency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(PreconditionFrequency), PreconditionFrequency, "Must be at least 1.");
        }

        if (StartPreconditioningStep is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(StartPreconditioningStep), StartPreconditioningStep,
                "Must be at least 1 (steps are counted from 1), or null for PreconditionFrequency.");
        }

        if (!Enum.IsDefined(Grafting))
        {
            throw new ArgumentOutOfRangeException(nameof(Grafting), Grafting, "Unknown grafting type.");
        }

        if (GraftingEpsilon is { } ge)
        {
            if (!GraftingHasState)
            {
                throw new ArgumentException($"GraftingEpsilon applies to Adagrad, RmsProp and Adam grafting, not {Grafting}.", nameof(GraftingEpsilon));
            }

            if (!(ge > 0) || double.IsInfinity(ge))
            {
                throw new ArgumentOutOfRangeException(nameof(GraftingEpsilon), ge, "The grafting ε must be finite and > 0.");
            }
        }

        if (GraftingBeta2 is { } gb)
        {
            if (Grafting is not (GraftingType.RmsProp or GraftingType.Adam))
            {
                throw new ArgumentException($"GraftingBeta2 applies to RmsProp and Adam grafting, not {Grafting} (Adagrad always sums).", nameof(GraftingBeta2));
            }

            if (!(gb > 0 && gb <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(GraftingBeta2), gb, "The grafting β must be in (0, 1].");
            }
        }

        if (!Enum.IsDefined(FactorPrecision))
        {
            throw new ArgumentOutOfRangeException(nameof(FactorPrecision), FactorPrecision, "Unknown precision.");
        }

        if (!Enum.IsDefined(RootMethod))
        {
            throw new ArgumentOutOfRangeException(nameof(RootMethod), RootMethod, "Unknown root method.");
        }

        if (!(DiagonalEpsilon >= 0) || double.IsInfinity(DiagonalEpsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(DiagonalEpsilon), DiagonalEpsilon, "Must be finite and ≥ 0.");
        }

        if (RefreshParallelism < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(RefreshParallelism), RefreshParallelism, "Must be ≥ 0 (0 = one per processor).");
        }

        if (ThreadedRefreshMinDim < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ThreadedRefreshMinDim), ThreadedRefreshMinDim, "Must be at least 1.");
        }

        if (DominantRefreshMinDim < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DominantRefreshMinDim), DominantRefreshMinDim, "Must be at least 1 (int.MaxValue: never).");
        }

        if (!Enum.IsDefined(Preconditioner))
        {
            throw new ArgumentOutOfRangeException(nameof(Preconditioner), Preconditioner, "Unknown preconditioner type.");
        }

        if (!Enum.IsDefined(EigenbasisRefresh))
        {
            throw new ArgumentOutOfRangeException(nameof(EigenbasisRefresh), EigenbasisRefresh, "Unknown eigenbasis refresh.");
        }

        if (ShampooBeta is { } sb && !(sb > 0 && sb < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(ShampooBeta), sb, "The statistics β must be in (0, 1), or null for Beta2.");
        }

        if (IsEigenvalueCorrected)
        {
            ValidateEigenvalueCorrected();
        }

        // Root, TraceNormalized, Epsilon, Beta2, FullEigendecompositionEvery and EpsilonGrowthOnFailure.
        ToPreconditionerOptions().Validate();
    }

    /// <summary>The checks only SOAP needs: Adam's β₂ and ε, no grafting, no Nesterov.</summary>
    private void ValidateEigenvalueCorrected()
    {
        if (Grafting != GraftingType.None)
        {
            throw new ArgumentException(
                $"The eigenvalue-corrected (SOAP) preconditioner needs no grafting: set Grafting = None (it is {Grafting}), or start from ShampooOptions.RecommendedSoap.",
                nameof(Grafting));
        }

        if (Nesterov)
        {
            throw new ArgumentException("Nesterov momentum does not apply to the eigenvalue-corrected (SOAP) preconditioner: set Nesterov = false.", nameof(Nesterov));
        }

        if (!(Beta2 > 0 && Beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "With the eigenvalue-corrected (SOAP) preconditioner Beta2 is Adam's β₂ and must be in (0, 1).");
        }

        if (!(Epsilon > 0) || double.IsInfinity(Epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "With the eigenvalue-corrected (SOAP) preconditioner Epsilon is Adam's ε and must be finite and > 0.");
        }
    }

    /// <summary>The settings that give stored state its meaning; a checkpoint only loads where these are equal.</summary>
    internal string StructuralSignature() => string.Create(CultureInfo.InvariantCulture,
        $"precision={FactorPrecision} maxDim={MaxPreconditionerDim} beta2={Beta2:R} root={Root:R} traceNormalized={TraceNormalized} " +
        $"momentum={Beta1 > 0} grafting={Grafting} graftingBeta2={EffectiveGraftingBeta2:R}") + (IsEigenvalueCorrected
            ? string.Create(CultureInfo.InvariantCulture, $" preconditioner={Preconditioner} shampooBeta={EffectiveShampooBeta:R}")
            : "");
}
