using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Native;

namespace ShampooMkl.Tests.Linalg;

/// <summary>syrk against a managed product, including the mirrored lower triangle.</summary>
public class SymmetricRankUpdateTests
{
    // (n, k): C is n×n, A is n×k (or k×n when transposed).
    private static readonly (int N, int K)[] Shapes = [(1, 1), (3, 5), (5, 3), (17, 1), (1, 9), (33, 20), (64, 70)];

    private static readonly (double Alpha, double Beta)[] Coefficients = [(1, 0), (1, 1), (-0.75, 1.25), (0.5, -2)];

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Update_MatchesReference_Double(BlasBackendKind kind) => MatchesReference<double>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Update_MatchesReference_Single(BlasBackendKind kind) => MatchesReference<float>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Update_WithoutMirror_LeavesStrictLowerTriangleUntouched(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 6, k = 4;
        var a = StridedMatrix<double>.Random(5, n, k);
        var c = StridedMatrix<double>.Empty(n, n, padding: 1);

        SymmetricRankUpdate.Update(a.ReadOnly, false, c.View, 1.0, 0.0, mirrorLower: false, lib);

        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                Assert.Equal(j < i, double.IsNaN(c[i, j]));
            }
        }

        Assert.True(c.PaddingIntact());
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Update_WithZeroInnerDimension_ScalesOutputByBeta(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        foreach (var transpose in new[] { false, true })
        {
            const int n = 5;
            var a = transpose ? StridedMatrix<double>.Random(1, 0, n) : StridedMatrix<double>.Random(1, n, 0);
            var c = StridedMatrix<double>.RandomSymmetric(2, n, padding: 2);
            var c0 = c.ToDense();

            SymmetricRankUpdate.Update(a.ReadOnly, transpose, c.View, 3.0, 0.5, mirrorLower: true, lib);

            Assert.Equal(c0.Select(x => 0.5 * x).ToArray(), c.ToDense());
            Assert.True(c.PaddingIntact());
        }
    }

    [Theory]
    [InlineData(4, 3, false, 3)] // A 4×3 gives 4×4, not 3×3
    [InlineData(4, 3, true, 4)]  // Aᵀ·A of a 4×3 is 3×3
    public void Update_ThrowsForNonConformingShapes(int rows, int cols, bool transpose, int n)
    {
        var e = Assert.Throws<ArgumentException>(() => SymmetricRankUpdate.Update<double>(
            new ReadOnlyMatrixView<double>(new double[rows * cols], rows, cols), transpose,
            new MatrixView<double>(new double[n * n], n, n), 1.0, 0.0));

        Assert.Contains("syrk", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Update_ThrowsForNonSquareOutput()
    {
        Assert.Throws<ArgumentException>(() => SymmetricRankUpdate.Update<double>(
            new ReadOnlyMatrixView<double>(new double[12], 4, 3), false,
            new MatrixView<double>(new double[20], 4, 5), 1.0, 0.0));
    }

    [Fact]
    public void Update_ThrowsWhenOutputOverlapsInput()
    {
        var shared = new double[40];

        var e = Assert.Throws<ArgumentException>(() => SymmetricRankUpdate.Update<double>(
            new ReadOnlyMatrixView<double>(shared.AsSpan(0, 12), 4, 3), false,
            new MatrixView<double>(shared.AsSpan(10, 16), 4, 4), 1.0, 0.0));

        Assert.Contains("C must not overlap A", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MirrorUpper_CopiesUpperOntoLower()
    {
        var c = new double[] { 1, 2, 3, -1, 4, 5, -1, -1, 6 };

        SymmetricRankUpdate.MirrorUpper(new MatrixView<double>(c, 3, 3));

        Assert.Equal([1, 2, 3, 2, 4, 5, 3, 5, 6], c);
    }

    private static void MatchesReference<T>(BlasBackend lib) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var seed = 500;
        foreach (var (n, k) in Shapes)
        {
            foreach (var transpose in new[] { false, true })
            {
                foreach (var padding in new[] { 0, 2 })
                {
                    foreach (var (alpha, beta) in Coefficients)
                    {
                        seed++;
                        var a = transpose ? StridedMatrix<T>.Random(seed, k, n, padding, padding) : StridedMatrix<T>.Random(seed, n, k, padding, padding);
                        // C₀ symmetric: syrk reads only its upper triangle, and the mirrored result is only
                        // α·A·Aᵀ + β·C₀ in full when C₀ is symmetric.
                        var c = StridedMatrix<T>.RandomSymmetric(seed + 1000, n, padding);
                        var c0 = c.Clone();
                        var what = $"{TestPrecision.Name<T>()} {lib.Kind} n={n} k={k} transpose={transpose} pad={padding} α={alpha} β={beta}";

                        SymmetricRankUpdate.Update(a.ReadOnly, transpose, c.View, T.CreateChecked(alpha), T.CreateChecked(beta), mirrorLower: true, lib);

                        // A·Aᵀ is the product of op(A) = A and op(B) = Aᵀ: same rounding bound as gemm (see there).
                        MatrixProductTests.AssertProduct(a, transpose, a, !transpose, c0, c, alpha, beta, k, what);
                        Assert.True(c.PaddingIntact(), what + ": padding written");
                        for (var i = 0; i < n; i++)
                        {
                            for (var j = 0; j < i; j++)
                            {
                                Assert.True(c[i, j] == c[j, i], what + ": result not exactly symmetric");
                            }
                        }
                    }
                }
            }
        }
    }
}
