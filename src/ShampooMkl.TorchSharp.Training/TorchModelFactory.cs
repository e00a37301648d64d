using TorchSharp;
using static TorchSharp.torch;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>Builds the TorchSharp models by <see cref="TorchModelKind"/> and names them the way the command line does.</summary>
/// <remarks><see cref="Names"/>, <see cref="TryParse"/> and <see cref="Describe"/> never touch libtorch, so a command line
/// can be validated where TorchSharp's native libraries do not load.</remarks>
public static class TorchModelFactory
{
    private static readonly string[] names = ["mlp", "cnn", "vit"];
    private static readonly Lock Generator = new();

    /// <summary>The command-line names, in <see cref="TorchModelKind"/> order.</summary>
    public static IReadOnlyList<string> Names => names;

    /// <summary>Parses a command-line name (case-insensitive); false for an unknown one.</summary>
    public static bool TryParse(string? name, out TorchModelKind kind)
    {
        var index = Array.IndexOf(names, (name ?? "").Trim().ToLowerInvariant());
        kind = (TorchModelKind)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static TorchModelKind Parse(string name) =>
        TryParse(name, out var kind) ? kind : throw new ArgumentException(UnknownMessage(name), nameof(name));

    /// <summary>The error for an unknown model name.</summary>
    public static string UnknownMessage(string? name) =>
        $"Unknown TorchSharp model '{name}'; choose one of: {string.Join(", ", Names)}.";

    /// <summary>The command-line name of a kind.</summary>
    public static string Name(TorchModelKind kind) => names[(int)kind];

    /// <summary>The architecture in one line, for reports (e.g. <c>(784-256-128-10)</c>).</summary>
    public static string Describe(TorchModelKind kind) => kind switch
    {
        TorchModelKind.Mlp => "(784-256-128-10)",
        TorchModelKind.Cnn => "(conv5x5x8-pool-conv5x5x16-pool-256-10)",
        TorchModelKind.Vit => "(patch7x7-16x64-2blocks-4heads-meanpool-10)",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown model kind."),
    };

    /// <summary>Seeds torch's global generator with <paramref name="seed"/> and builds an MNIST-sized model (784 inputs,
    /// 10 classes), so the same seed gives the same initial parameters.</summary>
    /// <remarks>Torch's generator is process-wide: code that draws from it on another thread at the same time (another
    /// model being built, <c>torch.randn</c>) changes the result. Calls of this method are serialised.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">An unknown kind.</exception>
    public static nn.Module<Tensor, Tensor> Create(TorchModelKind kind, int seed)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown model kind.");
        }

        // Seeding and drawing must not interleave with another caller's: torch's generator is process-wide.
        lock (Generator)
        {
            torch.manual_seed(seed);
            return kind switch
            {
                TorchModelKind.Mlp => new TorchMlp(),
                TorchModelKind.Cnn => new TorchCnn(),
                _ => new TorchVisionTransformer(),
            };
        }
    }
}
