using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Native;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Linalg;

/// <summary>syevd eigenpairs: residuals, ascending order, orthonormal rows, agreement with Jacobi.</summary>
public class SymmetricEigenTests
{
    private static readonly int[] Orders = [1, 2, 5, 16, 33];

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Decompose_GivesAscendingEigenpairsWithOrthonormalRows_Double(BlasBackendKind kind) => Eigenpairs<double>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Decompose_GivesAscendingEigenpairsWithOrthonormalRows_Single(BlasBackendKind kind) => Eigenpairs<float>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Decompose_OfOneByOne_ReturnsTheEntryAndUnitVector(BlasBackendKind kind)
    {
        using var eigen = new SymmetricEigen<double>(1, Backends.Get(kind), new BufferPool());
        var matrix = new[] { -2.5 };
        var values = new double[1];

        Assert.Equal(0, eigen.Decompose(new MatrixView<double>(matrix, 1, 1), values));

        Assert.Equal(-2.5, values[0]);
        Assert.Equal(1.0, Math.Abs(matrix[0]));
    }

    [Fact]
    public void Decompose_ThrowsForWrongShapes()
    {
        var lib = Backends.Get(Backends.Loaded[0]);
        using var eigen = new SymmetricEigen<double>(3, lib, new BufferPool());

        Assert.Throws<ArgumentException>(() => eigen.Decompose(new MatrixView<double>(new double[12], 3, 4), new double[3]));
        Assert.Throws<ArgumentException>(() => eigen.Decompose(new MatrixView<double>(new double[9], 3, 3), new double[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SymmetricEigen<double>(0, lib));
        Assert.Throws<NotSupportedException>(() => new SymmetricEigen<int>(3, lib));
    }

    /// <remarks>
    /// syevd is backward stable: each computed pair is exact for some A + E with ‖E‖₂ ≤ p(n)·ε·‖A‖₂ and
    /// the vectors are orthonormal to p(n)·ε, with p(n) a modest polynomial (LAPACK Users' Guide §4.7).
    /// We take p(n) = 8n (<see cref="Tolerance.ForPrecision{T}"/>) and ‖A‖_F ≥ ‖A‖₂ as the scale; by Weyl's
    /// theorem the eigenvalues then match the Jacobi reference to the same bound.
    /// </remarks>
    private static void Eigenpairs<T>(BlasBackend lib) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var n in Orders)
        {
            foreach (var padding in new[] { 0, 3 })
            {
                var a = StridedMatrix<T>.RandomSymmetric(40 + n + padding, n, padding);
                var dense = a.ToDense();
                var vectors = a.Clone();
                var values = new T[n];
                var what = $"{TestPrecision.Name<T>()} {lib.Kind} n={n} pad={padding}";
                using var eigen = new SymmetricEigen<T>(n, lib, new BufferPool());

                Assert.Equal(0, eigen.Decompose(vectors.View, values));

                var norm = DenseMatrix.FrobeniusNorm(dense);
                var tol = Tolerance.ForPrecision<T>(n);
                var lambda = values.Select(double.CreateChecked).ToArray();
                for (var k = 0; k + 1 < n; k++)
                {
                    Assert.True(lambda[k] <= lambda[k + 1], $"{what}: eigenvalues not ascending at {k}");
                }

                var rows = vectors.ToDense();
                for (var k = 0; k < n; k++)
                {
                    var v = rows.AsSpan(k * n, n).ToArray();
                    var av = DenseMatrix.MultiplyVector(dense, n, n, v);
                    var residual = Math.Sqrt(av.Select((x, i) => (x - (lambda[k] * v[i])) * (x - (lambda[k] * v[i]))).Sum());
                    Assert.True(residual <= tol * norm, $"{what}: ‖A v − λ v‖ = {residual:E3} for k={k}, allowed {tol * norm:E3}");
                }

                var gram = DenseMatrix.Multiply(rows, n, n, DenseMatrix.Transpose(rows, n, n), n, n);
                Tolerance.AssertClose(DenseMatrix.Identity(n), gram, 0, tol, what + ": V Vᵀ");
                Tolerance.AssertClose(JacobiEigen.Decompose(dense, n).Values, lambda, 0, tol * norm, what + ": eigenvalues vs Jacobi");
                Assert.True(vectors.PaddingIntact(), what + ": padding written");
            }
        }
    }
}
