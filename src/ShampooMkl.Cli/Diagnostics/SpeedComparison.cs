namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Which backend won one benchmark on this machine (dgemm/sgemm: steady steps; dsyevd: root refreshes).</summary>
public sealed record SpeedComparison(string Routine, string? Fastest, double? Gflops, double? Speedup, string Summary);
