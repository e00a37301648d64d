using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Native;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Linalg;

/// <summary>Row orthonormalisation: orthonormal output spanning the same nested subspaces as the input.</summary>
public class QrFactorizationTests
{
    private static readonly int[] Orders = [1, 2, 3, 8, 31];

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void OrthonormalizeRows_GivesOrthonormalRowsSpanningTheSameNestedSubspaces_Double(BlasBackendKind kind) =>
        OrthonormalAndSpanPreserving<double>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void OrthonormalizeRows_GivesOrthonormalRowsSpanningTheSameNestedSubspaces_Single(BlasBackendKind kind) =>
        OrthonormalAndSpanPreserving<float>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void OrthonormalizeRows_ReleasesItsWorkspaceOnDispose(BlasBackendKind kind)
    {
        var pool = new BufferPool();
        using (var qr = new QrFactorization<double>(6, Backends.Get(kind), pool))
        {
            Assert.Equal(0, qr.OrthonormalizeRows(StridedMatrix<double>.Random(1, 6, 6).View));
        }

        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void OrthonormalizeRows_ThrowsForWrongShape()
    {
        using var qr = new QrFactorization<double>(3, Backends.Get(Backends.Loaded[0]), new BufferPool());

        Assert.Throws<ArgumentException>(() => qr.OrthonormalizeRows(new MatrixView<double>(new double[12], 4, 3)));
    }

    /// <remarks>
    /// Householder QR is backward stable: Q is orthonormal to O(n·ε), and each input row k equals
    /// Σ_{j≤k} r_kj·q_j up to O(n·ε)·‖y_k‖ (Higham §19.3). Span preservation is checked directly: row k of
    /// the input, projected off q_0…q_k, must leave only a rounding-sized residual, which also proves the
    /// order is Gram–Schmidt's (the nesting a subspace power step relies on).
    /// </remarks>
    private static void OrthonormalAndSpanPreserving<T>(BlasBackend lib) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var n in Orders)
        {
            foreach (var padding in new[] { 0, 2 })
            {
                var y = StridedMatrix<T>.Random(70 + n, n, n, padding);
                var q = y.Clone();
                var what = $"{TestPrecision.Name<T>()} {lib.Kind} n={n} pad={padding}";
                using var qr = new QrFactorization<T>(n, lib, new BufferPool());

                Assert.Equal(0, qr.OrthonormalizeRows(q.View));

                var tol = Tolerance.ForPrecision<T>(n);
                var rows = q.ToDense();
                var input = y.ToDense();
                var gram = DenseMatrix.Multiply(rows, n, n, DenseMatrix.Transpose(rows, n, n), n, n);
                Tolerance.AssertClose(DenseMatrix.Identity(n), gram, 0, tol, what + ": Q Qᵀ");

                for (var k = 0; k < n; k++)
                {
                    var residual = input.AsSpan(k * n, n).ToArray();
                    var size = DenseMatrix.FrobeniusNorm(residual);
                    for (var j = 0; j <= k; j++)
                    {
                        var qj = rows.AsSpan(j * n, n);
                        var coefficient = DenseMatrix.FrobeniusInner(residual, qj);
                        for (var i = 0; i < n; i++)
                        {
                            residual[i] -= coefficient * qj[i];
                        }
                    }

                    var left = DenseMatrix.FrobeniusNorm(residual);
                    Assert.True(left <= tol * size, $"{what}: row {k} leaves {left:E3} outside span(q_0..q_{k}) (allowed {tol * size:E3})");
                }

                Assert.True(q.PaddingIntact(), what + ": padding written");
            }
        }
    }
}
