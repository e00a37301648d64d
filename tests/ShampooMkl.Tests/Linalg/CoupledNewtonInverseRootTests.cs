using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Native;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Linalg;

public class CoupledNewtonInverseRootTests
{
    private const double Sentinel = 12345.0;
    private const double TightTolerance = 1e-12;

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_MatchesEigendecompositionRoot_Double(BlasBackendKind kind) =>
        MatchesInverseRoot<double>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_MatchesEigendecompositionRoot_Single(BlasBackendKind kind) =>
        MatchesInverseRoot<float>(Backends.Get(kind));

    /// <remarks>Products of diagonal matrices are diagonal with exact zeros off the diagonal, so the iteration runs the
    /// scalar recurrence per eigenvalue; at convergence x^p·(d + ε) = 1 + r with |r| ≤ tol, so x is within
    /// tol/p (first order) of (d + ε)^{-1/p} relative, plus a few rounding errors per step.</remarks>
    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_OnDiagonalMatrix_IsElementwiseRoot(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        double[] d = [4, 0.25, 9, 1e-3, 2.5, 1, 7e4];
        var n = d.Length;
        var a = Diagonal(d);
        foreach (var p in new[] { 1, 2, 3, 4 })
        {
            const double epsilon = 1e-4;
            var x = Compute<double>(lib, a, n, p, epsilon, TightTolerance, out var result);

            Assert.True(result.Succeeded, $"{lib.Kind} p={p}: {result}");
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    var expected = i == j ? Math.Pow(d[i] + epsilon, -1.0 / p) : 0.0;
                    Tolerance.AssertClose(expected, x[(i * n) + j], (TightTolerance / p) + (64 * TestPrecision.Epsilon<double>()), 0,
                        $"{lib.Kind} p={p} X[{i},{j}]");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_OnRankDeficientInputWithEpsilon_MatchesClampedEigendecompositionRoot(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 16;
        // Rank 5: eleven eigenvalues are 0 ± O(ε‖A‖), far below ε = 1e-3, so ε decides them in both methods.
        var a = SeededRandom.SymmetricPositiveDefinite(41, n, shift: 0, rank: 5);
        foreach (var p in new[] { 2, 4 })
        {
            CompareWithInverseRoot<double>(lib, a, n, p, 1e-3, $"rank 5 p={p}");
        }
    }

    /// <remarks>
    /// The smallest eigenvalue of M₀ = z·(A + εI) is at least (p + 1)/(2√n·κ) (‖A‖_F ≤ √n·λ_max) and, while far below 1,
    /// grows by about ((p + 1)/p)^p ≥ 2.25 per step; after that quadratic convergence needs a handful more. For n = 16,
    /// κ = 10⁴, p = 2 that is log(4·16·10⁴/3)/log 2.25 ≈ 15 plus ~6: 30 leaves room without hiding a linear-rate bug.
    /// </remarks>
    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_IterationCountGrowsLikeLogOfConditionNumber(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 16;
        var d = Enumerable.Range(0, n).Select(k => Math.Pow(1e4, k / (n - 1.0))).ToArray();
        foreach (var p in new[] { 2, 4 })
        {
            Compute<double>(lib, Diagonal(d), n, p, 0, CoupledNewtonInverseRoot.DefaultTolerance, out var result);

            Assert.True(result.Succeeded, $"{lib.Kind} p={p}: {result}");
            Assert.InRange(result.Iterations, 5, 30);
            Assert.True(result.Residual <= CoupledNewtonInverseRoot.DefaultTolerance, $"{result}");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_WhenCapIsReached_ReportsNotConvergedAndLeavesOutputUntouched(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 8;
        var d = Enumerable.Range(0, n).Select(k => Math.Pow(1e6, k / (n - 1.0))).ToArray();
        var solver = new CoupledNewtonInverseRoot(n, maxIterations: 3, blas: lib, pool: new BufferPool());
        var output = Filled<double>(n);

        var result = solver.Compute<double>(new ReadOnlyMatrixView<double>(Diagonal(d), n, n), 4, 0, new MatrixView<double>(output, n, n));

        Assert.Equal(CoupledNewtonStatus.NotConverged, result.Status);
        Assert.Equal(3, result.Iterations);
        Assert.True(result.Residual > CoupledNewtonInverseRoot.DefaultTolerance);
        Assert.All(output, v => Assert.Equal(Sentinel, v));
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_WithNonFiniteInput_ReportsNonFiniteInputAndLeavesOutputUntouched(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 5;
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var a = SeededRandom.SymmetricPositiveDefinite(3, n);
            a[7] = bad;
            var solver = new CoupledNewtonInverseRoot(n, blas: lib, pool: new BufferPool());
            var x64 = Filled<double>(n);
            var x32 = Filled<float>(n);
            var a32 = a.Select(v => (float)v).ToArray();

            Assert.Equal(CoupledNewtonStatus.NonFiniteInput, solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x64, n, n)).Status);
            Assert.Equal(CoupledNewtonStatus.NonFiniteInput, solver.Compute<float>(new ReadOnlyMatrixView<float>(a32, n, n), 4, 1e-6, new MatrixView<float>(x32, n, n)).Status);
            Assert.All(x64, v => Assert.Equal(Sentinel, v));
            Assert.All(x32, v => Assert.Equal((float)Sentinel, v));
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_OnZeroMatrix_IsNonFiniteWithoutEpsilonAndScaledIdentityWithIt(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 6;
        var zero = new double[n * n];
        var solver = new CoupledNewtonInverseRoot(n, TightTolerance, blas: lib, pool: new BufferPool());
        var untouched = Filled<double>(n);
        var x = new double[n * n];

        var singular = solver.Compute<double>(new ReadOnlyMatrixView<double>(zero, n, n), 2, 0, new MatrixView<double>(untouched, n, n));
        var regularised = solver.Compute<double>(new ReadOnlyMatrixView<double>(zero, n, n), 2, 0.25, new MatrixView<double>(x, n, n));

        Assert.Equal(CoupledNewtonStatus.NonFiniteResult, singular.Status);
        Assert.All(untouched, v => Assert.Equal(Sentinel, v));
        Assert.True(regularised.Succeeded, regularised.ToString());
        Tolerance.AssertClose(DenseMatrix.Scale(DenseMatrix.Identity(n), 2.0), x, TightTolerance, 0, "0.25^{-1/2}·I");
    }

    [Fact]
    public void Constructor_ThrowsForOutOfRangeSettings()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CoupledNewtonInverseRoot(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CoupledNewtonInverseRoot(3, tolerance: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CoupledNewtonInverseRoot(3, tolerance: double.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CoupledNewtonInverseRoot(3, tolerance: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CoupledNewtonInverseRoot(3, maxIterations: 0));
    }

    [Fact]
    public void Compute_ThrowsForBadArguments()
    {
        var lib = Backends.Get(Backends.Loaded[0]);
        const int n = 3;
        var solver = new CoupledNewtonInverseRoot(n, blas: lib, pool: new BufferPool());
        var a = SeededRandom.SymmetricPositiveDefinite(1, n);
        var x = new double[n * n];

        Assert.Throws<ArgumentOutOfRangeException>(() => solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 0, 1e-6, new MatrixView<double>(x, n, n)));
        Assert.Throws<ArgumentOutOfRangeException>(() => solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, -1, new MatrixView<double>(x, n, n)));
        Assert.Throws<ArgumentOutOfRangeException>(() => solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, double.NaN, new MatrixView<double>(x, n, n)));
        Assert.Throws<ArgumentException>(() => solver.Compute<double>(new ReadOnlyMatrixView<double>(new double[16], 4, 4), 4, 1e-6, new MatrixView<double>(x, n, n)));
        Assert.Throws<ArgumentException>(() => solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(new double[16], 4, 4)));
        Assert.Throws<ArgumentException>(() => solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(a, n, n)));
        Assert.Throws<NotSupportedException>(() => solver.Compute<int>(new ReadOnlyMatrixView<int>(new int[9], n, n), 4, 1e-6, new MatrixView<int>(new int[9], n, n)));
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_WithFreshPool_ReturnsEveryRentedBuffer(BlasBackendKind kind)
    {
        // The tracking-pool pattern: success, non-convergence and bad input must all give their scratch back,
        // and a second call of the same size must be served from the pool.
        var pool = new BufferPool();
        const int n = 9;
        var a = SeededRandom.SymmetricPositiveDefinite(8, n);
        var nan = (double[])a.Clone();
        nan[4] = double.NaN;
        var x = new double[n * n];
        var solver = new CoupledNewtonInverseRoot(n, blas: Backends.Get(kind), pool: pool);
        var capped = new CoupledNewtonInverseRoot(n, maxIterations: 1, blas: Backends.Get(kind), pool: pool);

        Assert.True(solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x, n, n)).Succeeded);
        Assert.Equal(0, pool.Outstanding);
        var allocated = pool.AllocatedBytes;
        Assert.Equal(CoupledNewtonStatus.NotConverged, capped.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x, n, n)).Status);
        Assert.Equal(CoupledNewtonStatus.NonFiniteInput, solver.Compute<double>(new ReadOnlyMatrixView<double>(nan, n, n), 4, 1e-6, new MatrixView<double>(x, n, n)).Status);
        Assert.True(solver.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x, n, n)).Succeeded);

        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(allocated, pool.AllocatedBytes);
    }

    private static void MatchesInverseRoot<T>(BlasBackend lib) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var n in new[] { 1, 2, 7, 32 })
        {
            var a = SeededRandom.SymmetricPositiveDefinite(17 + n, n);
            foreach (var p in new[] { 1, 2, 3, 4 })
            {
                CompareWithInverseRoot<T>(lib, a, n, p, 1e-6, $"n={n} p={p}");
            }
        }
    }

    /// <remarks>
    /// Reference: <see cref="InverseRoot"/> (syevd), whose error is (1/p)·8nε·κ relative to ‖X‖ (see InverseRootTests).
    /// Newton: at the stop M = X^p(A + εI) = I + E with max|E| ≤ tol, so X = X*(I + E)^{1/p} is within n·tol/p of X*
    /// relative (‖E‖₂ ≤ n·max|E|); its rounding, about one gemm's n·ε per step carried by the self-correcting iteration,
    /// is covered by the same 8nε·κ term. fp32 outputs are the fp64 iterate rounded once: ε₃₂ relative per element.
    /// </remarks>
    private static void CompareWithInverseRoot<T>(BlasBackend lib, double[] a, int n, double p, double epsilon, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var input = a.Select(T.CreateTruncating).ToArray();
        var reference = new T[n * n];
        using (var root = new InverseRoot(n, lib, new BufferPool()))
        {
            Assert.Equal(InverseRootStatus.Success, root.Compute<T>(new ReadOnlyMatrixView<T>(input, n, n), p, epsilon, new MatrixView<T>(reference, n, n)));
        }

        var inputAsDouble = input.Select(double.CreateChecked).ToArray();
        var spectrum = JacobiEigen.Decompose(inputAsDouble, n).Values;
        var kappa = (Math.Max(spectrum[^1], 0) + epsilon) / (Math.Max(spectrum[0], 0) + epsilon);
        var expected = reference.Select(double.CreateChecked).ToArray();
        var scale = expected.Max(Math.Abs);

        var x = Compute<T>(lib, a, n, (int)p, epsilon, TightTolerance, out var result);

        Assert.True(result.Succeeded, $"{TestPrecision.Name<T>()} {lib.Kind} {what}: {result}");
        var rel = typeof(T) == typeof(float) ? 2 * TestPrecision.Epsilon<float>() : 0;
        var abs = ((n * TightTolerance / p) + (2 * Tolerance.ForPrecision<double>(n) * kappa / p)) * scale;
        Tolerance.AssertClose(expected, x, rel, abs, $"{TestPrecision.Name<T>()} {lib.Kind} {what} κ={kappa:G3} iterations={result.Iterations}");
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                Assert.Equal(x[(i * n) + j], x[(j * n) + i]);
            }
        }
    }

    private static double[] Compute<T>(BlasBackend lib, double[] a, int n, int p, double epsilon, double tolerance, out CoupledNewtonResult result)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var input = a.Select(T.CreateTruncating).ToArray();
        var output = new T[n * n];
        var solver = new CoupledNewtonInverseRoot(n, tolerance, blas: lib, pool: new BufferPool());
        result = solver.Compute<T>(new ReadOnlyMatrixView<T>(input, n, n), p, epsilon, new MatrixView<T>(output, n, n));
        return output.Select(double.CreateChecked).ToArray();
    }

    private static double[] Diagonal(double[] d)
    {
        var n = d.Length;
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] = d[i];
        }

        return a;
    }

    private static T[] Filled<T>(int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var output = new T[n * n];
        output.AsSpan().Fill(T.CreateChecked(Sentinel));
        return output;
    }
}
