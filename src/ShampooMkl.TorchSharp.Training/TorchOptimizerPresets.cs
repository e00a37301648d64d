using System.Globalization;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Optim;
using ShampooMkl.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>The optimizer presets of the TorchSharp path, named the way the command line names them.</summary>
/// <remarks>
/// ShampooMkl's optimizers use exactly the core presets of <see cref="OptimizerPresets"/> (Shampoo² and Shampoo with
/// Adam grafting and β₂ = 0.999, roots every 10 steps; AdamW at η = 3e-3), through the TorchSharp adapter. TorchSharp's
/// own optimizers get the same η = 3e-3 and PyTorch's defaults otherwise: <c>torch-adam</c> β = (0.9, 0.999), ε = 1e-8,
/// no weight decay; <c>torch-adamw</c> the same with decoupled weight decay 0.01 (what our AdamW uses), so each pair
/// differs only in the implementation.
/// <see cref="Names"/>, <see cref="TryParse"/>, <see cref="Name"/> and <see cref="DefaultLearningRate"/> never touch
/// libtorch.
/// </remarks>
public static class TorchOptimizerPresets
{
    /// <summary>η of TorchSharp's Adam and AdamW presets (the core AdamW preset's).</summary>
    public const double TorchLearningRate = 3e-3;

    /// <summary>Decoupled weight decay of <c>torch-adamw</c> (PyTorch's default, the core AdamW preset's).</summary>
    public const double TorchAdamWWeightDecay = 0.01;

    private static readonly string[] names = ["shampoo2", "shampoo", "adamw", "torch-adam", "torch-adamw", "soap"];

    /// <summary>The command-line names, in <see cref="TorchOptimizerKind"/> order.</summary>
    public static IReadOnlyList<string> Names => names;

    /// <summary>Parses a command-line name (case-insensitive); false for an unknown one.</summary>
    public static bool TryParse(string? name, out TorchOptimizerKind kind)
    {
        var index = Array.IndexOf(names, (name ?? "").Trim().ToLowerInvariant());
        kind = (TorchOptimizerKind)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static TorchOptimizerKind Parse(string name) =>
        TryParse(name, out var kind) ? kind : throw new ArgumentException(UnknownMessage(name), nameof(name));

    /// <summary>The error for an unknown optimizer name.</summary>
    public static string UnknownMessage(string? name) =>
        $"Unknown TorchSharp optimizer '{name}'; choose one of: {string.Join(", ", Names)}.";

    /// <summary>The command-line name of a kind.</summary>
    public static string Name(TorchOptimizerKind kind) => names[(int)kind];

    /// <summary>True for TorchSharp's own optimizers (<c>torch-adam</c>, <c>torch-adamw</c>).</summary>
    public static bool IsTorchSharpOwn(TorchOptimizerKind kind) => kind is TorchOptimizerKind.TorchAdam or TorchOptimizerKind.TorchAdamW;

    /// <summary>The tuned base learning rate of a preset.</summary>
    public static double DefaultLearningRate(TorchOptimizerKind kind) => kind switch
    {
        TorchOptimizerKind.ShampooSquared => OptimizerPresets.DefaultLearningRate(OptimizerKind.ShampooSquared),
        TorchOptimizerKind.Shampoo => OptimizerPresets.DefaultLearningRate(OptimizerKind.Shampoo),
        TorchOptimizerKind.AdamW => OptimizerPresets.DefaultLearningRate(OptimizerKind.AdamW),
        TorchOptimizerKind.Soap => OptimizerPresets.DefaultLearningRate(OptimizerKind.Soap),
        TorchOptimizerKind.TorchAdam or TorchOptimizerKind.TorchAdamW => TorchLearningRate,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer kind."),
    };

    /// <summary>Builds the preset over <paramref name="model"/>'s parameters with <paramref name="learningRate"/> or the
    /// tuned default.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An unknown kind, or a learning rate that is not positive and finite.</exception>
    public static TorchOptimizerSetup Create(TorchOptimizerKind kind, nn.Module model, double? learningRate = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var lr = learningRate ?? DefaultLearningRate(kind);
        if (!(lr > 0 && double.IsFinite(lr)))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be positive and finite.");
        }

        return kind switch
        {
            TorchOptimizerKind.ShampooSquared => CreateShampoo(model, ShampooOptions.RecommendedShampooSquared with { LearningRate = lr }),
            TorchOptimizerKind.Shampoo => CreateShampoo(model, ShampooOptions.RecommendedShampoo with { LearningRate = lr }),
            TorchOptimizerKind.Soap => CreateShampoo(model, ShampooOptions.RecommendedSoap with { LearningRate = lr }),
            TorchOptimizerKind.AdamW => CreateAdamW(model, OptimizerPresets.AdamWPreset with { LearningRate = lr }),
            TorchOptimizerKind.TorchAdam => CreateTorch(torch.optim.Adam(model.parameters(), lr, 0.9, 0.999, 1e-8, 0), lr, 0),
            TorchOptimizerKind.TorchAdamW => CreateTorch(torch.optim.AdamW(model.parameters(), lr, 0.9, 0.999, 1e-8, TorchAdamWWeightDecay), lr, TorchAdamWWeightDecay),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimizer kind."),
        };
    }

    private static TorchOptimizerSetup CreateTorch(torch.optim.Optimizer optimizer, double lr, double weightDecay) => new(
        optimizer,
        new Dictionary<string, string>
        {
            ["lr"] = F(lr),
            ["beta1"] = F(0.9),
            ["beta2"] = F(0.999),
            ["epsilon"] = F(1e-8),
            ["weightDecay"] = F(weightDecay),
            ["implementation"] = "TorchSharp",
        });

    private static TorchOptimizerSetup CreateShampoo(nn.Module model, ShampooOptions options)
    {
        var optimizer = new TorchShampoo(model.named_parameters(), options);
        return new TorchOptimizerSetup(optimizer, WithImplementation(OptimizerPresets.Describe(options)), () => optimizer.Core.Statistics);
    }

    private static TorchOptimizerSetup CreateAdamW(nn.Module model, AdamWOptions options)
    {
        var optimizer = new TorchAdamW(model.named_parameters(), options);
        return new TorchOptimizerSetup(optimizer, WithImplementation(OptimizerPresets.Describe(options)), () => optimizer.Core.Statistics);
    }

    private static Dictionary<string, string> WithImplementation(IReadOnlyDictionary<string, string> settings) =>
        new(settings) { ["implementation"] = "ShampooMkl" };

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
