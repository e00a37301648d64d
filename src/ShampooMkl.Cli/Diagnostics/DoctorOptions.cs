namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Settings of one diagnosis run.</summary>
/// <param name="GemmSize">n of the n×n×n GFLOP/s measurement (tests use a small n to stay fast).</param>
/// <param name="Repetitions">Timed repetitions after one warm-up; the best is reported.</param>
/// <param name="BlasOverride">The backend named by <c>--blas</c>, if any (it outranks SHAMPOO_BLAS).</param>
/// <param name="EigenSize">n of the n×n <c>dsyevd</c> timing, the kernel of an inverse-root refresh.</param>
public sealed record DoctorOptions(int GemmSize = 1024, int Repetitions = 5, BlasBackendKind? BlasOverride = null, int EigenSize = 512);
