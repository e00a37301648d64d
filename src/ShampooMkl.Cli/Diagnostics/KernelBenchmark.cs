namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Best-of-N timing of one n×n×n product (<c>dgemm</c>, <c>sgemm</c>) or of one n×n eigendecomposition
/// (<c>dsyevd</c>, whose <see cref="Gflops"/> count a nominal 9n³ flops: compare them between backends only). The
/// JSON field names (<c>routine</c>, <c>size</c>, <c>repetitions</c>, <c>bestSeconds</c>, <c>gflops</c>) are stable.</summary>
public sealed record KernelBenchmark(string Routine, int Size, int Repetitions, double BestSeconds, double Gflops);
