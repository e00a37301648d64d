using System.Globalization;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>The optimizers the CLI and demo train with: Shampoo, Shampoo² and SOAP are the core's
/// <see cref="ShampooOptions.RecommendedShampoo"/>, <see cref="ShampooOptions.RecommendedShampooSquared"/> and
/// <see cref="ShampooOptions.RecommendedSoap"/>; AdamW and
/// SGD have learning rates tuned for the MNIST models at batch 128.</summary>
/// <remarks>
/// Schedules are constant on purpose: a decay that depends on the planned number of epochs would make
/// "train 1 epoch, then resume to 2" differ from "train 2 epochs", which the checkpoints promise not to.
/// </remarks>
public static class OptimizerPresets
{
    private static readonly string[] names = ["shampoo", "shampoo2", "adamw", "sgd", "soap"];

    /// <summary>The command-line names, in <see cref="OptimizerKind"/> order.</summary>
    public static IReadOnlyList<string> Names => names;

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static OptimizerKind Parse(string name) =>
        TryParse(name, out var kind) ? kind : throw new ArgumentException(UnknownMessage(name), nameof(name));

    /// <summary>Parses a command-line name (case-insensitive); false for an unknown one.</summary>
    public static bool TryParse(string? name, out OptimizerKind kind)
    {
        var index = Array.IndexOf(names, (name ?? "").Trim().ToLowerInvariant());
        kind = (OptimizerKind)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>The error for an unknown optimizer name.</summary>
    public static string UnknownMessage(string? name) => $"Unknown optimizer '{name}'; choose one of: {string.Join(", ", Names)}.";

    /// <summary>The command-line name of a kind.</summary>
    public static string Name(OptimizerKind kind) => names[(int)kind];

    /// <summary>The tuned base learning rate of a preset.</summary>
    public static double DefaultLearningRate(OptimizerKind kind) => kind switch
    {
        OptimizerKind.Shampoo => ShampooOptions.RecommendedShampoo.LearningRate,
        OptimizerKind.ShampooSquared => ShampooOptions.RecommendedShampooSquared.LearningRate,
        OptimizerKind.AdamW => AdamWPreset.LearningRate,
        OptimizerKind.Sgd => SgdPreset.LearningRate,
        OptimizerKind.Soap => ShampooOptions.RecommendedSoap.LearningRate,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer kind."),
    };

    /// <summary>Tuned AdamW: η = 3e-3, otherwise PyTorch's defaults (β = 0.9/0.999, ε = 1e-8, λ = 0.01).</summary>
    public static AdamWOptions AdamWPreset { get; } = AdamWOptions.Default with { LearningRate = 3e-3 };

    /// <summary>Tuned SGD: η = 0.05 with heavy-ball momentum 0.9.</summary>
    public static SgdOptions SgdPreset { get; } = SgdOptions.Default with { LearningRate = 0.05, Momentum = 0.9 };

    /// <summary>Builds the preset over <paramref name="parameters"/>, with <paramref name="learningRate"/> or the tuned default;
    /// Shampoo shares its blocks over <paramref name="communicator"/>'s ranks (the baselines keep their state on every rank).</summary>
    public static OptimizerSetup Create(OptimizerKind kind, IReadOnlyList<Parameter> parameters, double? learningRate = null, ICommunicator? communicator = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return kind switch
        {
            OptimizerKind.Shampoo => Create(parameters, ShampooOptions.RecommendedShampoo with { LearningRate = learningRate ?? ShampooOptions.RecommendedShampoo.LearningRate }, communicator),
            OptimizerKind.ShampooSquared => Create(parameters, ShampooOptions.RecommendedShampooSquared with { LearningRate = learningRate ?? ShampooOptions.RecommendedShampooSquared.LearningRate }, communicator),
            OptimizerKind.AdamW => Create(parameters, AdamWPreset with { LearningRate = learningRate ?? AdamWPreset.LearningRate }),
            OptimizerKind.Sgd => Create(parameters, SgdPreset with { LearningRate = learningRate ?? SgdPreset.LearningRate }),
            OptimizerKind.Soap => Create(parameters, ShampooOptions.RecommendedSoap with { LearningRate = learningRate ?? ShampooOptions.RecommendedSoap.LearningRate }, communicator),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer kind."),
        };
    }

    /// <summary>Shampoo with explicit options (e.g. while tuning), with its settings described for the report.</summary>
    public static OptimizerSetup Create(IReadOnlyList<Parameter> parameters, ShampooOptions options, ICommunicator? communicator = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new OptimizerSetup(new Shampoo(parameters, options, communicator: communicator), Describe(options));
    }

    /// <summary>The settings of Shampoo <paramref name="options"/> as a report records them (<c>lr</c>, <c>root</c>,
    /// <c>beta2</c>, <c>epsilon</c>, <c>grafting</c>, …; numbers formatted invariantly and round-trippable; SOAP adds
    /// <c>preconditioner</c>, <c>shampooBeta</c> and <c>eigenbasisRefresh</c>).</summary>
    public static IReadOnlyDictionary<string, string> Describe(ShampooOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = new Dictionary<string, string>
        {
            ["lr"] = F(options.LearningRate),
            ["root"] = F(options.Root),
            ["traceNormalized"] = options.TraceNormalized ? "true" : "false",
            ["beta1"] = F(options.Beta1),
            ["beta2"] = F(options.Beta2),
            ["epsilon"] = F(options.Epsilon),
            ["grafting"] = options.Grafting.ToString(),
            ["graftingEpsilon"] = F(options.EffectiveGraftingEpsilon),
            ["graftingBeta2"] = F(options.EffectiveGraftingBeta2),
            ["preconditionFrequency"] = F(options.PreconditionFrequency),
            ["startPreconditioningStep"] = F(options.EffectiveStartPreconditioningStep),
            ["maxPreconditionerDim"] = F(options.MaxPreconditionerDim),
            ["weightDecay"] = F(options.WeightDecay),
            ["factorPrecision"] = options.FactorPrecision.ToString(),
        };
        if (options.Preconditioner == PreconditionerType.EigenvalueCorrected)
        {
            settings["preconditioner"] = options.Preconditioner.ToString();
            settings["shampooBeta"] = F(options.EffectiveShampooBeta);
            settings["eigenbasisRefresh"] = options.EigenbasisRefresh.ToString();
        }

        return settings;
    }

    /// <summary>AdamW with explicit options.</summary>
    public static OptimizerSetup Create(IReadOnlyList<Parameter> parameters, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new OptimizerSetup(new AdamW(parameters, options), Describe(options));
    }

    /// <summary>The settings of AdamW <paramref name="options"/> as a report records them (<c>lr</c>, <c>beta1</c>,
    /// <c>beta2</c>, <c>epsilon</c>, <c>weightDecay</c>).</summary>
    public static IReadOnlyDictionary<string, string> Describe(AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Dictionary<string, string>
        {
            ["lr"] = F(options.LearningRate),
            ["beta1"] = F(options.Beta1),
            ["beta2"] = F(options.Beta2),
            ["epsilon"] = F(options.Epsilon),
            ["weightDecay"] = F(options.WeightDecay),
        };
    }

    /// <summary>SGD with explicit options.</summary>
    public static OptimizerSetup Create(IReadOnlyList<Parameter> parameters, SgdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var description = new Dictionary<string, string>
        {
            ["lr"] = F(options.LearningRate),
            ["momentum"] = F(options.Momentum),
            ["nesterov"] = options.Nesterov ? "true" : "false",
            ["weightDecay"] = F(options.WeightDecay),
        };
        return new OptimizerSetup(new Sgd(parameters, options), description);
    }

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
