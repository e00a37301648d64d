using ShampooMkl.Memory;

namespace ShampooMkl.Linalg;

/// <summary>Orthonormalises the rows of an n×n matrix by LAPACK <c>geqrf</c> + <c>orgqr</c>, with a pooled workspace.</summary>
/// <remarks>
/// Our row-major rows are LAPACK's column-major columns, so factoring the buffer as LAPACK sees it
/// (Y = QR, Y's columns being our rows) and forming Q in place leaves Q's columns, i.e. orthonormal
/// rows, in our view: Gram–Schmidt of the rows in order, which is what a subspace power step needs.
/// </remarks>
internal sealed unsafe class QrFactorization<T> : IDisposable where T : unmanaged
{
    private readonly BlasBackend blas;
    private PooledBuffer<T> work;
    private PooledBuffer<T> tau;
    private readonly int lwork;

    /// <summary>Prepares a factorization for n×n matrices.</summary>
    public QrFactorization(int order, BlasBackend? blas = null, BufferPool? pool = null)
    {
        BlasGuard.EnsureSupported<T>();
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        Order = order;
        this.blas = BlasGuard.Resolve(blas);
        pool ??= BufferPool.Shared;
        T q1 = default, q2 = default;
        var n = order;
        var minus1 = -1;
        var info = 0;
        if (typeof(T) == typeof(float))
        {
            this.blas.Sgeqrf(&n, &n, null, &n, null, (float*)&q1, &minus1, &info);
            this.blas.Sorgqr(&n, &n, &n, null, &n, null, (float*)&q2, &minus1, &info);
        }
        else
        {
            this.blas.Dgeqrf(&n, &n, null, &n, null, (double*)&q1, &minus1, &info);
            this.blas.Dorgqr(&n, &n, &n, null, &n, null, (double*)&q2, &minus1, &info);
        }

        double Size(T v) => typeof(T) == typeof(float) ? *(float*)&v : *(double*)&v;
        lwork = Math.Max(order, (int)Math.Ceiling(Math.Max(Size(q1), Size(q2))));
        work = pool.Rent<T>(lwork);
        tau = pool.Rent<T>(order);
    }

    /// <summary>The matrix order n.</summary>
    public int Order { get; }

    /// <summary>Replaces the rows of <paramref name="matrix"/> by an orthonormal basis of the same nested spans.
    /// Returns LAPACK's info (0 on success).</summary>
    public int OrthonormalizeRows(MatrixView<T> matrix)
    {
        if (matrix.Rows != Order || matrix.Cols != Order)
        {
            throw new ArgumentException($"Expected a {Order}×{Order} matrix, got {matrix.Rows}×{matrix.Cols}.", nameof(matrix));
        }

        var n = Order;
        var ld = matrix.Stride;
        var lw = lwork;
        var info = 0;
        fixed (T* a = matrix.Data)
        {
            if (typeof(T) == typeof(float))
            {
                blas.Sgeqrf(&n, &n, (float*)a, &ld, (float*)tau.Pointer, (float*)work.Pointer, &lw, &info);
                if (info == 0)
                {
                    blas.Sorgqr(&n, &n, &n, (float*)a, &ld, (float*)tau.Pointer, (float*)work.Pointer, &lw, &info);
                }
            }
            else
            {
                blas.Dgeqrf(&n, &n, (double*)a, &ld, (double*)tau.Pointer, (double*)work.Pointer, &lw, &info);
                if (info == 0)
                {
                    blas.Dorgqr(&n, &n, &n, (double*)a, &ld, (double*)tau.Pointer, (double*)work.Pointer, &lw, &info);
                }
            }
        }

        return info;
    }

    /// <summary>Returns the workspace to the pool.</summary>
    public void Dispose()
    {
        work.Dispose();
        tau.Dispose();
    }
}
