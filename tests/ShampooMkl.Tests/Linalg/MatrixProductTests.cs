using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Native;

namespace ShampooMkl.Tests.Linalg;

/// <summary>gemm against a managed product over shapes, transposes, strides, α/β, precisions and backends.</summary>
public class MatrixProductTests
{
    // (m, k, n) of op(A)·op(B): scalars, odd sizes, K = 1, tall/wide, and one large enough for blocked kernels.
    private static readonly (int M, int K, int N)[] Shapes =
    [
        (1, 1, 1), (3, 5, 7), (7, 5, 3), (8, 1, 9), (1, 17, 1), (17, 33, 5), (2, 3, 40), (65, 70, 67),
    ];

    // α, β: the plain product, accumulate, and values that are neither 0 nor 1 (exact in binary so fp32 sees them exactly).
    private static readonly (double Alpha, double Beta)[] Coefficients = [(1, 0), (1, 1), (-0.75, 1.25), (2.5, -0.5)];

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Multiply_MatchesReference_Double(BlasBackendKind kind) => MatchesReference<double>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Multiply_MatchesReference_Single(BlasBackendKind kind) => MatchesReference<float>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Multiply_WithZeroInnerDimension_ScalesOutputByBeta(BlasBackendKind kind)
    {
        ZeroInnerDimension<double>(Backends.Get(kind));
        ZeroInnerDimension<float>(Backends.Get(kind));
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Multiply_WithBetaZero_IgnoresNaNInOutput(BlasBackendKind kind)
    {
        // BLAS semantics: β = 0 means C is write-only, so garbage (here NaN) in C must not leak into the result.
        var lib = Backends.Get(kind);
        var a = StridedMatrix<double>.Random(1, 4, 6);
        var b = StridedMatrix<double>.Random(2, 6, 5);
        var c = StridedMatrix<double>.Empty(4, 5);

        MatrixProduct.Multiply(a.ReadOnly, false, b.ReadOnly, false, c.View, 1.0, 0.0, lib);

        Assert.All(c.ToDense(), x => Assert.True(double.IsFinite(x)));
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Multiply_WithEmptyOutput_DoesNothing(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        var a = StridedMatrix<double>.Random(1, 0, 4);
        var b = StridedMatrix<double>.Random(2, 4, 3);
        var c = StridedMatrix<double>.Empty(0, 3);

        MatrixProduct.Multiply(a.ReadOnly, false, b.ReadOnly, false, c.View, 1.0, 0.0, lib);

        Assert.True(c.PaddingIntact());
    }

    [Theory]
    [InlineData(3, 4, 5, 6, 3, 6)] // inner dimensions differ
    [InlineData(3, 4, 4, 6, 2, 6)] // C has too few rows
    [InlineData(3, 4, 4, 6, 3, 7)] // C has too many columns
    public void Multiply_ThrowsForNonConformingShapes(int am, int ak, int bk, int bn, int cm, int cn)
    {
        var e = Assert.Throws<ArgumentException>(() =>
            MatrixProduct.Multiply<double>(
                new ReadOnlyMatrixView<double>(new double[am * ak], am, ak), false,
                new ReadOnlyMatrixView<double>(new double[bk * bn], bk, bn), false,
                new MatrixView<double>(new double[cm * cn], cm, cn), 1.0, 0.0));

        Assert.Contains("do not conform", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Multiply_ThrowsForNonConformingShapesUnderTranspose()
    {
        // 3×4 times 3×5 conforms only as Aᵀ·B (4×3·3×5).
        MatrixProduct.Multiply<double>(
            new ReadOnlyMatrixView<double>(new double[12], 3, 4), true,
            new ReadOnlyMatrixView<double>(new double[15], 3, 5), false,
            new MatrixView<double>(new double[20], 4, 5), 1.0, 0.0, Backends.Get(Backends.Loaded[0]));

        Assert.Throws<ArgumentException>(() => MatrixProduct.Multiply<double>(
            new ReadOnlyMatrixView<double>(new double[12], 3, 4), false,
            new ReadOnlyMatrixView<double>(new double[15], 3, 5), false,
            new MatrixView<double>(new double[20], 4, 5), 1.0, 0.0));
    }

    [Fact]
    public void Multiply_ThrowsWhenOutputOverlapsInput()
    {
        var shared = new double[64];

        var overlapsA = Assert.Throws<ArgumentException>(() => MatrixProduct.Multiply<double>(
            new ReadOnlyMatrixView<double>(shared.AsSpan(0, 16), 4, 4), false,
            new ReadOnlyMatrixView<double>(new double[16], 4, 4), false,
            new MatrixView<double>(shared.AsSpan(8, 16), 4, 4), 1.0, 0.0));
        var overlapsB = Assert.Throws<ArgumentException>(() => MatrixProduct.Multiply<double>(
            new ReadOnlyMatrixView<double>(new double[16], 4, 4), false,
            new ReadOnlyMatrixView<double>(shared.AsSpan(32, 16), 4, 4), false,
            new MatrixView<double>(shared.AsSpan(32, 16), 4, 4), 1.0, 0.0));

        Assert.Contains("C must not overlap A", overlapsA.Message, StringComparison.Ordinal);
        Assert.Contains("C must not overlap B", overlapsB.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Multiply_ThrowsForUnsupportedElementType()
    {
        Assert.Throws<NotSupportedException>(() => MatrixProduct.Multiply<int>(
            new ReadOnlyMatrixView<int>(new int[4], 2, 2), false,
            new ReadOnlyMatrixView<int>(new int[4], 2, 2), false,
            new MatrixView<int>(new int[4], 2, 2), 1, 0));
    }

    private static void MatchesReference<T>(BlasBackend lib) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var seed = 100;
        foreach (var (m, k, n) in Shapes)
        {
            foreach (var transposeA in new[] { false, true })
            {
                foreach (var transposeB in new[] { false, true })
                {
                    foreach (var padding in new[] { 0, 3 })
                    {
                        foreach (var (alpha, beta) in Coefficients)
                        {
                            seed++;
                            var a = transposeA ? StridedMatrix<T>.Random(seed, k, m, padding, padding) : StridedMatrix<T>.Random(seed, m, k, padding, padding);
                            var b = transposeB ? StridedMatrix<T>.Random(seed + 1000, n, k, padding) : StridedMatrix<T>.Random(seed + 1000, k, n, padding);
                            var c = StridedMatrix<T>.Random(seed + 2000, m, n, padding, 1);
                            var c0 = c.Clone();
                            var what = $"{TestPrecision.Name<T>()} {lib.Kind} {m}×{k}·{k}×{n} tA={transposeA} tB={transposeB} pad={padding} α={alpha} β={beta}";

                            MatrixProduct.Multiply(a.ReadOnly, transposeA, b.ReadOnly, transposeB, c.View,
                                T.CreateChecked(alpha), T.CreateChecked(beta), lib);

                            AssertProduct(a, transposeA, b, transposeB, c0, c, alpha, beta, k, what);
                            Assert.True(a.PaddingIntact() && b.PaddingIntact(), what + ": inputs' padding changed");
                            Assert.True(c.PaddingIntact(), what + ": output padding was written");
                        }
                    }
                }
            }
        }
    }

    /// <summary>Checks C against α·op(A)·op(B) + β·C₀ computed in double, element by element.</summary>
    /// <remarks>
    /// Tolerance: the rounding-error bound for a dot product of length k in any summation order is
    /// |fl(aᵀb) − aᵀb| ≤ γ_k·|a|ᵀ|b| with γ_k ≈ k·u, u = ε/2 (Higham, Accuracy and Stability, §3.1);
    /// scaling by α and adding β·C₀ add two more roundings. Element-wise that is
    /// |ΔC_ij| ≤ (k + 2)·u·(|α|·(|op(A)||op(B)|)_ij + |β|·|C₀_ij|). The double reference obeys the same
    /// bound in fp64, so the two together stay within (k + 2)·ε·M_ij; we allow 2× that. Being a worst-case
    /// bound it cannot flake, and a wrong transpose flag, stride or α/β misuse exceeds it by orders of magnitude.
    /// </remarks>
    internal static void AssertProduct<T>(
        StridedMatrix<T> a, bool transposeA, StridedMatrix<T> b, bool transposeB,
        StridedMatrix<T> c0, StridedMatrix<T> c, double alpha, double beta, int k, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var eps = TestPrecision.Epsilon<T>();
        for (var i = 0; i < c.Rows; i++)
        {
            for (var j = 0; j < c.Cols; j++)
            {
                double sum = 0, magnitude = 0;
                for (var p = 0; p < k; p++)
                {
                    var term = a.At(i, p, transposeA) * b.At(p, j, transposeB);
                    sum += term;
                    magnitude += Math.Abs(term);
                }

                var cij0 = double.CreateChecked(c0[i, j]);
                var expected = (alpha * sum) + (beta * cij0);
                var bound = (Math.Abs(alpha) * magnitude) + (Math.Abs(beta) * Math.Abs(cij0));
                var allowed = 2 * (k + 2) * eps * bound;
                var actual = double.CreateChecked(c[i, j]);
                if (!(Math.Abs(actual - expected) <= allowed))
                {
                    Assert.Fail($"{what}: C[{i},{j}] = {actual:R}, expected {expected:R} (|diff| {Math.Abs(actual - expected):E3} > {allowed:E3})");
                }
            }
        }
    }

    private static void ZeroInnerDimension<T>(BlasBackend lib) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var transposeA in new[] { false, true })
        {
            foreach (var beta in new[] { 0.0, 1.5 })
            {
                const int m = 3, n = 4;
                var a = transposeA ? StridedMatrix<T>.Random(1, 0, m) : StridedMatrix<T>.Random(1, m, 0);
                var b = StridedMatrix<T>.Random(2, 0, n);
                var c = StridedMatrix<T>.Random(3, m, n, padding: 2);
                if (beta == 0)
                {
                    // β = 0 must clear C even when it holds NaN, exactly as BLAS treats β = 0 for K > 0.
                    c = StridedMatrix<T>.Empty(m, n, padding: 2);
                }

                var c0 = c.ToDense();

                MatrixProduct.Multiply(a.ReadOnly, transposeA, b.ReadOnly, false, c.View, T.CreateChecked(0.5), T.CreateChecked(beta), lib);

                var expected = beta == 0 ? new double[m * n] : c0.Select(x => beta * x).ToArray();
                // β·C₀ is one rounding in T.
                Reference.Tolerance.AssertClose(expected, c.ToDense(), TestPrecision.Epsilon<T>(), 0, $"{TestPrecision.Name<T>()} {lib.Kind} K=0 tA={transposeA} β={beta}");
                Assert.True(c.PaddingIntact());
            }
        }
    }
}
