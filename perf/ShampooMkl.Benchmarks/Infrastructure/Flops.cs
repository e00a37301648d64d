using System.Numerics;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>The flop counts behind every GFLOP/s figure in this project: one convention, stated once.</summary>
/// <remarks>
/// <list type="bullet">
/// <item>gemm, C(m×n) += A(m×k)·B(k×n): 2mnk (a multiply and an add per term).</item>
/// <item>syrk, C(n×n) += A(n×k)·Aᵀ: n²k, half of the equivalent gemm because only one triangle is formed (the exact
/// count is n(n+1)k; the n²k convention makes syrk and gemm rates directly comparable).</item>
/// <item>syevd with eigenvectors: 9n³, Golub &amp; Van Loan's count for the symmetric QR algorithm with vectors
/// (4/3·n³ for the tridiagonal reduction, the rest for accumulating the vectors). Divide and conquer usually does
/// less (deflation), so syevd rates are "effective" rates: time measured against this nominal work.</item>
/// <item>geqrf and orgqr on n×n: 4/3·n³ each (LAPACK Working Note 41).</item>
/// </list>
/// Element-wise work (mirroring, scaling, grafting, momentum) is O(n²) and not counted: it shows up as lost
/// efficiency, which is the point of the roofline table.
/// </remarks>
internal static class Flops
{
    public static double Gemm(double m, double n, double k) => 2 * m * n * k;

    public static double Syrk(double n, double k) => n * n * k;

    public static double Syevd(double n) => 9 * n * n * n;

    public static double Geqrf(double n) => 4.0 / 3.0 * n * n * n;

    public static double Orgqr(double n) => 4.0 / 3.0 * n * n * n;

    /// <summary>InverseRoot with a full decomposition: syevd, then Eᵀ·D·E as one syrk.</summary>
    public static double InverseRootFull(double n) => Syevd(n) + Syrk(n, n);

    /// <summary>InverseRoot warm start: E·A (gemm), QR (geqrf + orgqr), E·A again for the Rayleigh quotients (gemm), syrk.</summary>
    public static double InverseRootWarm(double n) => Gemm(n, n, n) + Geqrf(n) + Orgqr(n) + Gemm(n, n, n) + Syrk(n, n);

    /// <summary>Gemms per coupled Newton step: X·M̃, then M̃^p·M by binary powering.</summary>
    public static int CoupledNewtonGemmsPerIteration(int root) =>
        1 + (BitOperations.Log2((uint)root) + BitOperations.PopCount((uint)root));

    /// <summary>A coupled Newton root that took <paramref name="iterations"/> steps.</summary>
    public static double CoupledNewton(double n, int root, int iterations) =>
        iterations * CoupledNewtonGemmsPerIteration(root) * Gemm(n, n, n);

    /// <summary>Statistics of one m×n block: L += G·Gᵀ and R += Gᵀ·G.</summary>
    public static double Accumulate(double m, double n) => Syrk(m, n) + Syrk(n, m);

    /// <summary>D = L^{-1/p}·G·R^{-1/p} for one m×n block.</summary>
    public static double Precondition(double m, double n) => Gemm(m, n, m) + Gemm(m, n, n);
}
