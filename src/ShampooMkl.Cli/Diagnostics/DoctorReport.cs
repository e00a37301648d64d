using System.Text.Json.Serialization;

namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Everything <c>shampoo-mkl doctor</c> found out; rendered as tables or written as JSON.</summary>
public sealed record DoctorReport(
    MachineInfo Machine,
    IReadOnlyList<BackendReport> Backends,
    IReadOnlyList<SpeedComparison> Comparisons,
    DefaultBackendInfo DefaultBackend,
    bool Passed,
    IReadOnlyList<string> Failures);

/// <summary>The host the diagnosis ran on.</summary>
public sealed record MachineInfo(
    string OsDescription,
    string RuntimeIdentifier,
    string CpuModel,
    int LogicalCores,
    string DotNetVersion,
    string MklThreadingVariable);

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

/// <summary>Whether one exported symbol was found in the loaded library.</summary>
public sealed record SymbolCheck(string Name, bool Found);

/// <summary>A correctness check: the measured error against the tolerance it must meet.</summary>
public sealed record SmokeCheck(string Name, double Error, double Tolerance, bool Passed, string? Detail);

/// <summary>Best-of-N timing of one n×n×n product (<c>dgemm</c>, <c>sgemm</c>) or of one n×n eigendecomposition
/// (<c>dsyevd</c>, whose <see cref="Gflops"/> count a nominal 9n³ flops: compare them between backends only). The
/// JSON field names (<c>routine</c>, <c>size</c>, <c>repetitions</c>, <c>bestSeconds</c>, <c>gflops</c>) are stable.</summary>
public sealed record KernelBenchmark(string Routine, int Size, int Repetitions, double BestSeconds, double Gflops);

/// <summary>Which backend won one benchmark on this machine (dgemm/sgemm: steady steps; dsyevd: root refreshes).</summary>
public sealed record SpeedComparison(string Routine, string? Fastest, double? Gflops, double? Speedup, string Summary);

/// <summary>The backend used when none is named, and why.</summary>
public sealed record DefaultBackendInfo(string? Backend, string Reason, string? Error);

/// <summary>Source-generated JSON metadata, so writing the report needs no reflection (trimming friendly).</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(DoctorReport))]
internal sealed partial class DoctorJsonContext : JsonSerializerContext;
