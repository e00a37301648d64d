using ShampooMkl.Memory;

namespace ShampooMkl.Linalg;

/// <summary>Eigendecomposition of a symmetric n×n matrix by LAPACK <c>syevd</c> (divide and conquer), with a pooled workspace.</summary>
/// <remarks>
/// LAPACK is column-major and we are row-major. A symmetric matrix is its own transpose, so the input
/// needs no copy; on output LAPACK's eigenvector columns appear, in our row-major view, as rows:
/// row k of the matrix holds the unit eigenvector of eigenvalue k, eigenvalues ascending.
/// The workspace is sized once by LAPACK's own query (lwork = -1), so a decomposition allocates nothing.
/// </remarks>
internal sealed unsafe class SymmetricEigen<T> : IDisposable where T : unmanaged
{
    private readonly BlasBackend blas;
    private PooledBuffer<T> work;
    private PooledBuffer<int> iwork;
    private readonly int lwork;
    private readonly int liwork;

    /// <summary>Prepares a solver for n×n matrices.</summary>
    public SymmetricEigen(int order, BlasBackend? blas = null, BufferPool? pool = null)
    {
        BlasGuard.EnsureSupported<T>();
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        Order = order;
        this.blas = BlasGuard.Resolve(blas);
        pool ??= BufferPool.Shared;

        // Workspace query: LAPACK writes the optimal sizes into work[0] and iwork[0].
        T workSize = default;
        var iworkSize = 0;
        var info = Call(null, null, &workSize, -1, &iworkSize, -1);
        if (info != 0)
        {
            throw new InvalidOperationException($"syevd workspace query failed for n={order} (info={info}).");
        }

        lwork = Math.Max(1, (int)Math.Ceiling(typeof(T) == typeof(float) ? (double)*(float*)&workSize : *(double*)&workSize));
        liwork = Math.Max(1, iworkSize);
        work = pool.Rent<T>(lwork);
        iwork = pool.Rent<int>(liwork);
    }

    /// <summary>The matrix order n.</summary>
    public int Order { get; }

    /// <summary>Replaces <paramref name="matrix"/> (symmetric; its upper triangle is read) by its eigenvectors as rows,
    /// and writes the ascending eigenvalues. Returns LAPACK's info: 0 on success, &gt; 0 if it failed to converge.</summary>
    /// <exception cref="ArgumentException">The matrix is not n×n or the eigenvalue span is not n long.</exception>
    public int Decompose(MatrixView<T> matrix, Span<T> eigenvalues)
    {
        if (matrix.Rows != Order || matrix.Cols != Order)
        {
            throw new ArgumentException($"Expected a {Order}×{Order} matrix, got {matrix.Rows}×{matrix.Cols}.", nameof(matrix));
        }

        if (eigenvalues.Length != Order)
        {
            throw new ArgumentException($"Expected {Order} eigenvalue slots, got {eigenvalues.Length}.", nameof(eigenvalues));
        }

        // Divide-and-conquer with eigenvectors costs about 9n³ flops.
        var previousThreads = blas.LimitThreadsFor(9L * Order * Order * Order);
        try
        {
            fixed (T* a = matrix.Data)
            fixed (T* w = eigenvalues)
            {
                return Call(a, w, work.Pointer, lwork, iwork.Pointer, liwork, matrix.Stride);
            }
        }
        finally
        {
            blas.RestoreThreads(previousThreads);
        }
    }

    private int Call(T* a, T* w, T* workPtr, int lworkValue, int* iworkPtr, int liworkValue, int lda = -1)
    {
        byte jobz = (byte)'V';
        byte uplo = (byte)'L'; // column-major lower == our row-major upper
        var n = Order;
        var ld = lda < 0 ? Order : lda;
        var info = 0;
        if (typeof(T) == typeof(float))
        {
            blas.Ssyevd(&jobz, &uplo, &n, (float*)a, &ld, (float*)w, (float*)workPtr, &lworkValue, iworkPtr, &liworkValue, &info, 1, 1);
        }
        else
        {
            blas.Dsyevd(&jobz, &uplo, &n, (double*)a, &ld, (double*)w, (double*)workPtr, &lworkValue, iworkPtr, &liworkValue, &info, 1, 1);
        }

        return info;
    }

    /// <summary>Returns the workspace to the pool.</summary>
    public void Dispose()
    {
        work.Dispose();
        iwork.Dispose();
    }
}
