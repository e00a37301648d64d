namespace ShampooMkl.Cli.Diagnostics;

/// <summary>The backend used when none is named, and why.</summary>
public sealed record DefaultBackendInfo(string? Backend, string Reason, string? Error);
