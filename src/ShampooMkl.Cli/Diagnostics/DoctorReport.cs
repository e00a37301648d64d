namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Everything <c>shampoo-mkl doctor</c> found out; rendered as tables or written as JSON.</summary>
public sealed record DoctorReport(
    MachineInfo Machine,
    IReadOnlyList<BackendReport> Backends,
    IReadOnlyList<SpeedComparison> Comparisons,
    DefaultBackendInfo DefaultBackend,
    bool Passed,
    IReadOnlyList<string> Failures);
