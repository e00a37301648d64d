using System.Text.Json.Serialization;

namespace ShampooMkl.Cli.Diagnostics;

/// <summary>One backend: whether it loaded, what it is, and how it fared.</summary>
public sealed record BackendReport(
    string Name,
    bool Loaded,
    IReadOnlyList<string> Attempts,
    string? LibraryPath,
    string? Version,
    string? ThreadingLayer,
    int? MaxThreads,
    IReadOnlyList<SymbolCheck> Symbols,
    IReadOnlyList<SmokeCheck> SmokeTests,
    IReadOnlyList<KernelBenchmark> Benchmarks)
{
    /// <summary>Loaded, every symbol present and every smoke test passed.</summary>
    [JsonIgnore]
    public bool Healthy => Loaded && Symbols.All(s => s.Found) && SmokeTests.All(s => s.Passed);
}
