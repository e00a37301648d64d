namespace ShampooMkl.Cli.Diagnostics;

/// <summary>The host the diagnosis ran on.</summary>
public sealed record MachineInfo(
    string OsDescription,
    string RuntimeIdentifier,
    string CpuModel,
    int LogicalCores,
    string DotNetVersion,
    string MklThreadingVariable);
