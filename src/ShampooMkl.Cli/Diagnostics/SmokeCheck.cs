namespace ShampooMkl.Cli.Diagnostics;

/// <summary>A correctness check: the measured error against the tolerance it must meet.</summary>
public sealed record SmokeCheck(string Name, double Error, double Tolerance, bool Passed, string? Detail);
