using ShampooMkl.Analysis.Models;

namespace ShampooMkl.Analysis.Training;

/// <summary>Builds models by <see cref="ModelKind"/> and names them the way the command line does.</summary>
public static class ModelFactory
{
    private static readonly string[] names = ["linear", "mlp", "cnn"];

    /// <summary>The command-line names, in <see cref="ModelKind"/> order.</summary>
    public static IReadOnlyList<string> Names => names;

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static ModelKind Parse(string name) =>
        TryParse(name, out var kind) ? kind : throw new ArgumentException(UnknownMessage(name), nameof(name));

    /// <summary>Parses a command-line name (case-insensitive); false for an unknown one.</summary>
    public static bool TryParse(string? name, out ModelKind kind)
    {
        var index = Array.IndexOf(names, (name ?? "").Trim().ToLowerInvariant());
        kind = (ModelKind)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>The error for an unknown model name.</summary>
    public static string UnknownMessage(string? name) => $"Unknown model '{name}'; choose one of: {string.Join(", ", Names)}.";

    /// <summary>The command-line name of a kind.</summary>
    public static string Name(ModelKind kind) => Names[(int)kind];

    /// <summary>Builds an MNIST-sized model (784 inputs, 10 classes) initialised from <paramref name="seed"/>.</summary>
    public static SequentialModel Create(ModelKind kind, int maxBatchSize, int seed) => kind switch
    {
        ModelKind.Linear => new LinearClassifier(maxBatchSize: maxBatchSize, seed: seed),
        ModelKind.Mlp => new Mlp(maxBatchSize: maxBatchSize, seed: seed),
        ModelKind.Cnn => new SmallCnn(maxBatchSize: maxBatchSize, seed: seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown model kind."),
    };
}
