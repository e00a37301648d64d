using System.Text.Json.Serialization;

namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Everything <c>shampoo-mkl doctor</c> found out; rendered as tables or written as JSON.</summary>
public sealed record DoctorReport(
    MachineInfo Machine,
    IReadOnlyList<BackendReport> Backends,
    IReadOnlyList<SpeedComparison> Comparisons,
    DefaultBackendInfo DefaultBackend,
    bool Passed,
    IReadOnlyList<string> Failures)
{

    /// <summary>Version of the doctor.json layout written by this build.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Layout version of doctor.json, written first so a consumer can check it before reading the rest.</summary>
    [JsonPropertyOrder(-1)]
    public int FormatVersion { get; init; } = CurrentFormatVersion;
}
