using System.Runtime.CompilerServices;
using ShampooMkl.Memory;
using ShampooMkl.Native;

namespace ShampooMkl.Linalg;

/// <summary>Symmetric rank-k update C ← α·A·Aᵀ + β·C (or α·Aᵀ·A + β·C) through BLAS <c>syrk</c>.</summary>
/// <remarks>syrk does half the flops of the equivalent gemm; it writes only the upper triangle, so by
/// default the lower one is mirrored to keep C a plain dense symmetric matrix for everything downstream.</remarks>
public static unsafe class SymmetricRankUpdate
{
    /// <summary>C ← α·A·Aᵀ + β·C when <paramref name="transpose"/> is false (A is n×k), else C ← α·Aᵀ·A + β·C (A is k×n).</summary>
    /// <exception cref="ArgumentException">C is not n×n, or overlaps A.</exception>
    public static void Update<T>(
        ReadOnlyMatrixView<T> a, bool transpose, MatrixView<T> c, T alpha, T beta,
        bool mirrorLower = true, BlasBackend? blas = null)
        where T : unmanaged
    {
        BlasGuard.EnsureSupported<T>();
        var n = transpose ? a.Cols : a.Rows;
        var k = transpose ? a.Rows : a.Cols;
        if (c.Rows != n || c.Cols != n)
        {
            throw new ArgumentException($"syrk: C must be {n}×{n} for A of {a.Rows}×{a.Cols} (transpose={transpose}), got {c.Rows}×{c.Cols}.");
        }

        BlasGuard.NoOverlap(a.Data, c.Data, "A", "C");
        if (n == 0)
        {
            return;
        }

        if (k == 0)
        {
            MatrixProduct.Multiply(a, transpose, a, !transpose, c, alpha, beta, blas);
            return;
        }

        var lib = BlasGuard.Resolve(blas);
        var trans = transpose ? CblasConstants.Trans : CblasConstants.NoTrans;
        var previousThreads = lib.LimitThreadsFor((long)n * n * k);
        fixed (T* pa = a.Data)
        fixed (T* pc = c.Data)
        {
            if (typeof(T) == typeof(float))
            {
                lib.Ssyrk(CblasConstants.RowMajor, CblasConstants.Upper, trans, n, k, Unsafe.As<T, float>(ref alpha),
                    (float*)pa, a.Stride, Unsafe.As<T, float>(ref beta), (float*)pc, c.Stride);
            }
            else
            {
                lib.Dsyrk(CblasConstants.RowMajor, CblasConstants.Upper, trans, n, k, Unsafe.As<T, double>(ref alpha),
                    (double*)pa, a.Stride, Unsafe.As<T, double>(ref beta), (double*)pc, c.Stride);
            }
        }

        lib.RestoreThreads(previousThreads);

        if (mirrorLower)
        {
            MirrorUpper(c);
        }
    }

    /// <summary>Copies the upper triangle onto the lower one.</summary>
    /// <remarks>In square tiles, so the column-wise reads of the upper triangle stay in cache (a plain double loop
    /// touches a new cache line for every element once n exceeds a few hundred).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MirrorUpper<T>(MatrixView<T> c) where T : unmanaged
    {
        const int tile = 32;
        var n = c.Rows;
        for (var i0 = 0; i0 < n; i0 += tile)
        {
            var i1 = Math.Min(i0 + tile, n);
            for (var j0 = 0; j0 <= i0; j0 += tile)
            {
                var j1 = Math.Min(j0 + tile, n);
                for (var i = i0; i < i1; i++)
                {
                    var row = c.Row(i);
                    var end = Math.Min(j1, i);
                    for (var j = j0; j < end; j++)
                    {
                        row[j] = c[j, i];
                    }
                }
            }
        }
    }
}
