using System.Runtime.CompilerServices;
using ShampooMkl.Memory;
using ShampooMkl.Native;

namespace ShampooMkl.Linalg;

/// <summary>General matrix product C ← α·op(A)·op(B) + β·C through BLAS <c>gemm</c>.</summary>
public static unsafe class MatrixProduct
{
    /// <summary>Computes C ← α·op(A)·op(B) + β·C, where op(X) is X or Xᵀ.</summary>
    /// <exception cref="ArgumentException">The shapes do not conform, or C overlaps A or B.</exception>
    public static void Multiply<T>(
        ReadOnlyMatrixView<T> a, bool transposeA,
        ReadOnlyMatrixView<T> b, bool transposeB,
        MatrixView<T> c, T alpha, T beta, BlasBackend? blas = null)
        where T : unmanaged
    {
        BlasGuard.EnsureSupported<T>();
        var m = transposeA ? a.Cols : a.Rows;
        var k = transposeA ? a.Rows : a.Cols;
        var kb = transposeB ? b.Cols : b.Rows;
        var n = transposeB ? b.Rows : b.Cols;
        if (k != kb || c.Rows != m || c.Cols != n)
        {
            throw new ArgumentException(
                $"gemm shapes do not conform: op(A) is {m}×{k}, op(B) is {kb}×{n}, C is {c.Rows}×{c.Cols}.");
        }

        BlasGuard.NoOverlap(a.Data, c.Data, "A", "C");
        BlasGuard.NoOverlap(b.Data, c.Data, "B", "C");
        if (m == 0 || n == 0)
        {
            return;
        }

        if (k == 0)
        {
            // BLAS implementations disagree on K = 0; the mathematical answer is C ← β·C.
            Scale(c, beta);
            return;
        }

        var lib = BlasGuard.Resolve(blas);
        var ta = transposeA ? CblasConstants.Trans : CblasConstants.NoTrans;
        var tb = transposeB ? CblasConstants.Trans : CblasConstants.NoTrans;
        var previousThreads = lib.LimitThreadsFor(2L * m * n * k);
        fixed (T* pa = a.Data)
        fixed (T* pb = b.Data)
        fixed (T* pc = c.Data)
        {
            if (typeof(T) == typeof(float))
            {
                lib.Sgemm(CblasConstants.RowMajor, ta, tb, m, n, k, Unsafe.As<T, float>(ref alpha), (float*)pa, a.Stride,
                    (float*)pb, b.Stride, Unsafe.As<T, float>(ref beta), (float*)pc, c.Stride);
            }
            else
            {
                lib.Dgemm(CblasConstants.RowMajor, ta, tb, m, n, k, Unsafe.As<T, double>(ref alpha), (double*)pa, a.Stride,
                    (double*)pb, b.Stride, Unsafe.As<T, double>(ref beta), (double*)pc, c.Stride);
            }
        }

        lib.RestoreThreads(previousThreads);
    }

    private static void Scale<T>(MatrixView<T> c, T beta) where T : unmanaged
    {
        for (var i = 0; i < c.Rows; i++)
        {
            var row = c.Row(i);
            if (typeof(T) == typeof(float))
            {
                var r = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(row);
                var s = Unsafe.As<T, float>(ref beta);
                if (s == 0f) { r.Clear(); } else { System.Numerics.Tensors.TensorPrimitives.Multiply(r, s, r); }
            }
            else
            {
                var r = System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(row);
                var s = Unsafe.As<T, double>(ref beta);
                if (s == 0d) { r.Clear(); } else { System.Numerics.Tensors.TensorPrimitives.Multiply(r, s, r); }
            }
        }
    }
}
