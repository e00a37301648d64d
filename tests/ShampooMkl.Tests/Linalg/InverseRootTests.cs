using System.Numerics;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Tests.Native;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Linalg;

/// <summary>(A + εI)^{-1/p} against identities and the Jacobi reference, failure statuses, and the warm start.</summary>
public class InverseRootTests
{
    private const double Sentinel = 12345.0;

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_RootToThePowerPTimesRegularisedInputIsIdentity_Double(BlasBackendKind kind) =>
        PowerTimesInputIsIdentity<double>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_RootToThePowerPTimesRegularisedInputIsIdentity_Single(BlasBackendKind kind) =>
        PowerTimesInputIsIdentity<float>(Backends.Get(kind));

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_NonIntegerRoot_MatchesJacobiReference(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        foreach (var p in new[] { 3.0, 1.5, 2.5 })
        {
            MatchesReference<double>(lib, SeededRandom.SymmetricPositiveDefinite(11, 20), 20, p, 1e-6, $"p={p}");
            MatchesReference<float>(lib, SeededRandom.SymmetricPositiveDefinite(11, 20), 20, p, 1e-6, $"p={p}");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_OnDiagonalMatrix_IsExactElementwiseRoot(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        double[] d = [4, 0.25, 9, 1e-3, 2.5, 1, 7e4];
        var n = d.Length;
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] = d[i];
        }

        foreach (var p in new[] { 2.0, 4.0, 3.0 })
        {
            const double epsilon = 1e-4;
            var x = Compute<double>(lib, a, n, p, epsilon, out var status);

            Assert.Equal(InverseRootStatus.Success, status);
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    if (i == j)
                    {
                        // syevd returns exact unit vectors for a diagonal input, so the only rounding left is
                        // squaring s = (d + ε)^{-1/(2p)} in syrk and pow's own ≤ 1 ulp: a few ε in all.
                        var expected = Math.Pow(d[i] + epsilon, -1.0 / p);
                        Tolerance.AssertClose(expected, x[(i * n) + i], 4 * TestPrecision.Epsilon<double>(), 0, $"{lib.Kind} p={p} X[{i},{i}]");
                    }
                    else
                    {
                        Assert.Equal(0.0, x[(i * n) + j]);
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_OnRankDeficientPsdInputWithEpsilon_MatchesClampedReference(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 12;
        // Rank 4: eight eigenvalues are zero in exact arithmetic and ±O(ε‖A‖) after rounding; the clamp at 0
        // is what keeps the negative ones from producing NaN.
        var a = SeededRandom.SymmetricPositiveDefinite(21, n, shift: 0, rank: 4);
        foreach (var p in new[] { 2.0, 4.0, 3.0 })
        {
            MatchesReference<double>(lib, a, n, p, 1e-3, $"rank 4 p={p}");
            MatchesReference<float>(lib, a, n, p, 1e-3, $"rank 4 p={p}");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_WithNonFiniteInput_ReportsNonFiniteInputAndLeavesOutputUntouched(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 5;
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            foreach (var position in new[] { 0, 7, (n * n) - 1 })
            {
                var a = SeededRandom.SymmetricPositiveDefinite(3, n);
                a[position] = bad;
                var what = $"{lib.Kind} {bad} at {position}";

                var status64 = ComputeIntoSentinel<double>(lib, a, n, out var x64);
                var status32 = ComputeIntoSentinel<float>(lib, a, n, out var x32);

                Assert.True(status64 == InverseRootStatus.NonFiniteInput, $"{what} fp64: {status64}");
                Assert.True(status32 == InverseRootStatus.NonFiniteInput, $"{what} fp32: {status32}");
                Assert.True(x64.All(v => v == Sentinel), what + ": fp64 output was written");
                Assert.True(x32.All(v => v == (float)Sentinel), what + ": fp32 output was written");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_WithZeroEpsilonOnSingularInput_ReportsNonFiniteResultAndLeavesOutputUntouched(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 4;
        // Exactly singular (a diagonal zero, and the zero matrix): syevd returns an exact 0 eigenvalue,
        // whose inverse root is +∞.
        var diagonal = new double[n * n];
        diagonal[0] = 2;
        diagonal[5] = 0;
        diagonal[10] = 3;
        diagonal[15] = 1;
        foreach (var a in new[] { diagonal, new double[n * n] })
        {
            Assert.Equal(InverseRootStatus.NonFiniteResult, ComputeIntoSentinel<double>(lib, a, n, out var x64, epsilon: 0));
            Assert.All(x64, v => Assert.Equal(Sentinel, v));
            Assert.Equal(InverseRootStatus.NonFiniteResult, ComputeIntoSentinel<float>(lib, a, n, out var x32, epsilon: 0));
            Assert.All(x32, v => Assert.Equal((float)Sentinel, v));
        }
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_FirstWarmStartWithoutBasis_EqualsFullDecomposition(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 10;
        var a = SeededRandom.SymmetricPositiveDefinite(5, n);
        using var warm = new InverseRoot(n, lib, new BufferPool());
        using var full = new InverseRoot(n, lib, new BufferPool());
        var xWarm = new double[n * n];
        var xFull = new double[n * n];

        Assert.False(warm.HasEigenbasis);
        Assert.Equal(InverseRootStatus.Success, warm.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(xWarm, n, n), InverseRootMethod.EigenbasisWarmStart));
        Assert.Equal(InverseRootStatus.Success, full.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(xFull, n, n)));

        Assert.True(warm.HasEigenbasis);
        Assert.False(full.HasEigenbasis);
        Assert.Equal(xFull, xWarm);
        Assert.Equal(full.Eigenvalues.ToArray(), warm.Eigenvalues.ToArray());
    }

    /// <remarks>
    /// Setting: A = Q Λ Qᵀ with λ_k = 2^k (every neighbouring ratio 1/2), then A' = A + η·S, ‖S‖_F = 1.
    /// In A's eigenbasis the eigenvectors of A' differ from A's by δ_ij ≈ S̃_ij·η / (λ_j − λ_i) (first-order
    /// perturbation theory). One subspace-iteration step from A's basis, orthonormalised dominant-first,
    /// multiplies each such error by λ_small/λ_large ≤ 1/2. A rotation of the basis by δ' changes
    /// f(A') = Σ f(λ_k) v_k v_kᵀ by Σ_{i≠j} δ'_ij (f(λ_i) − f(λ_j)) v_i v_jᵀ, while the Rayleigh-quotient
    /// eigenvalues are only off at second order. So ‖X_warm − X_exact‖_F ≈ B with
    /// B² = Σ_{i≠j} (δ_ij · λ_small/λ_large · (f_i − f_j))²; we allow 2B (second-order terms, η = 1e-4) and
    /// also require the step to beat simply keeping the previous root by at least 2×.
    /// </remarks>
    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_WarmStartOnSlightlyPerturbedMatrix_IsCloseToExactRoot(BlasBackendKind kind)
    {
        var lib = Backends.Get(kind);
        const int n = 8;
        const double eta = 1e-4;
        const double p = 2;
        const double epsilon = 1e-9;
        var lambda = Enumerable.Range(0, n).Select(k => Math.Pow(2, k)).ToArray();
        var q = JacobiEigen.Decompose(StridedMatrix<double>.RandomSymmetric(31, n).ToDense(), n).Vectors; // columns orthonormal
        var a = Conjugate(q, lambda, n);
        var s = StridedMatrix<double>.RandomSymmetric(32, n).ToDense();
        var sNorm = DenseMatrix.FrobeniusNorm(s);
        var perturbed = a.Zip(s, (x, y) => x + (eta * y / sNorm)).ToArray();
        double F(double l) => Math.Pow(Math.Max(l, 0) + epsilon, -1 / p);

        using var root = new InverseRoot(n, lib, new BufferPool());
        var stale = new double[n * n];
        var warm = new double[n * n];
        Assert.Equal(InverseRootStatus.Success, root.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), p, epsilon, new MatrixView<double>(stale, n, n), InverseRootMethod.EigenbasisWarmStart));
        Assert.Equal(InverseRootStatus.Success, root.Compute<double>(new ReadOnlyMatrixView<double>(perturbed, n, n), p, epsilon, new MatrixView<double>(warm, n, n), InverseRootMethod.EigenbasisWarmStart));

        var exact = JacobiEigen.MatrixFunction(perturbed, n, F);
        // S̃ = Qᵀ S Q, the perturbation in A's eigenbasis.
        var sTilde = DenseMatrix.Multiply(DenseMatrix.Transpose(q, n, n), n, n, DenseMatrix.Multiply(s, n, n, q, n, n), n, n);
        double bound2 = 0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                if (i != j)
                {
                    var delta = eta * sTilde[(i * n) + j] / sNorm / (lambda[j] - lambda[i]);
                    var contraction = Math.Min(lambda[i], lambda[j]) / Math.Max(lambda[i], lambda[j]);
                    var term = delta * contraction * (F(lambda[i]) - F(lambda[j]));
                    bound2 += term * term;
                }
            }
        }

        var bound = Math.Sqrt(bound2);
        var warmError = DenseMatrix.FrobeniusNorm(warm.Zip(exact, (x, y) => x - y).ToArray());
        var staleError = DenseMatrix.FrobeniusNorm(stale.Zip(exact, (x, y) => x - y).ToArray());

        Assert.True(warmError <= 2 * bound, $"{lib.Kind}: warm-start error {warmError:E3} exceeds 2× the one-step bound {bound:E3} (stale root error {staleError:E3})");
        Assert.True(warmError <= 0.5 * staleError, $"{lib.Kind}: warm-start error {warmError:E3} is not 2× better than keeping the stale root ({staleError:E3})");

        // Repeated steps on the same matrix converge: after a few more the root is exact to rounding.
        for (var step = 0; step < 30; step++)
        {
            Assert.Equal(InverseRootStatus.Success, root.Compute<double>(new ReadOnlyMatrixView<double>(perturbed, n, n), p, epsilon, new MatrixView<double>(warm, n, n), InverseRootMethod.EigenbasisWarmStart));
        }

        Tolerance.AssertClose(exact, warm, 0, Tolerance.ForPrecision<double>(n) * lambda[^1], $"{lib.Kind}: warm start after 31 steps");
    }

    [Fact]
    public void Compute_ThrowsForInvalidArguments()
    {
        using var root = new InverseRoot(3, Backends.Get(Backends.Loaded[0]), new BufferPool());
        var a = new double[9];
        var x = new double[9];

        Assert.Throws<ArgumentException>(() => root.Compute<double>(new ReadOnlyMatrixView<double>(new double[16], 4, 4), 2, 0, new MatrixView<double>(x, 3, 3)));
        Assert.Throws<ArgumentException>(() => root.Compute<double>(new ReadOnlyMatrixView<double>(a, 3, 3), 2, 0, new MatrixView<double>(new double[12], 3, 4)));
        foreach (var p in new[] { 0, -1, double.NaN, double.PositiveInfinity })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => root.Compute<double>(new ReadOnlyMatrixView<double>(a, 3, 3), p, 0, new MatrixView<double>(x, 3, 3)));
        }

        foreach (var epsilon in new[] { -1e-12, double.NaN, double.PositiveInfinity })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => root.Compute<double>(new ReadOnlyMatrixView<double>(a, 3, 3), 2, epsilon, new MatrixView<double>(x, 3, 3)));
        }

        Assert.Throws<NotSupportedException>(() => root.Compute<int>(new ReadOnlyMatrixView<int>(new int[9], 3, 3), 2, 0, new MatrixView<int>(new int[9], 3, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InverseRoot(0));
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_GivesTheSameBits_WhateverTheRentedScratchHeld(BlasBackendKind kind)
    {
        // The full decomposition promotes straight into the eigenbasis buffer and lets syrk (β = 0) write the output
        // buffer without ever filling it first: NaN left in pooled memory must not reach the root.
        const int n = 24;
        var lib = Backends.Get(kind);
        var a = SeededRandom.SymmetricPositiveDefinite(n, n);
        var poisoned = new BufferPool();
        var held = new[] { poisoned.Rent<double>(n * n), poisoned.Rent<double>(n * n), poisoned.Rent<double>(n * n), poisoned.Rent<double>(n) };
        foreach (var buffer in held)
        {
            buffer.Span.Fill(double.NaN);
            buffer.Dispose();
        }

        var clean = new double[n * n];
        var dirty = new double[n * n];
        using (var root = new InverseRoot(n, lib, new BufferPool()))
        {
            Assert.Equal(InverseRootStatus.Success, root.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(clean, n, n)));
        }

        using (var root = new InverseRoot(n, lib, poisoned))
        {
            Assert.Equal(InverseRootStatus.Success, root.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(dirty, n, n)));
        }

        Assert.Equal(clean.Select(BitConverter.DoubleToInt64Bits), dirty.Select(BitConverter.DoubleToInt64Bits));
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Compute_WithFreshPool_ReturnsEveryRentedBuffer(BlasBackendKind kind)
    {
        // The tracking-pool pattern: a private pool sees only this instance's rentals, so Outstanding
        // proves that every path (full, warm start with its lazily created QR, failure) returns its scratch.
        var pool = new BufferPool();
        const int n = 9;
        var a = SeededRandom.SymmetricPositiveDefinite(8, n);
        var nan = (double[])a.Clone();
        nan[4] = double.NaN;
        var x = new double[n * n];
        using (var root = new InverseRoot(n, Backends.Get(kind), pool))
        {
            var held = pool.Outstanding;
            foreach (var method in new[] { InverseRootMethod.Eigendecomposition, InverseRootMethod.EigenbasisWarmStart, InverseRootMethod.EigenbasisWarmStart })
            {
                Assert.Equal(InverseRootStatus.Success, root.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x, n, n), method));
            }

            Assert.Equal(InverseRootStatus.NonFiniteInput, root.Compute<double>(new ReadOnlyMatrixView<double>(nan, n, n), 4, 1e-6, new MatrixView<double>(x, n, n)));
            // Only the solver workspaces (syevd's, and QR's once a warm start ran) stay rented between calls.
            Assert.InRange(pool.Outstanding, held, held + 2);
            var allocated = pool.AllocatedBytes;
            root.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 4, 1e-6, new MatrixView<double>(x, n, n), InverseRootMethod.EigenbasisWarmStart);
            Assert.Equal(allocated, pool.AllocatedBytes);
        }

        Assert.Equal(0, pool.Outstanding);
    }

    private static void PowerTimesInputIsIdentity<T>(BlasBackend lib) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int n = 24;
        const double epsilon = 1e-6;
        var a = SeededRandom.SymmetricPositiveDefinite(7, n);
        var regularised = DenseMatrix.Add(a, DenseMatrix.Scale(DenseMatrix.Identity(n), epsilon));
        var spectrum = JacobiEigen.Decompose(regularised, n).Values;
        var kappa = spectrum[^1] / spectrum[0];
        foreach (var p in new[] { 2, 4 })
        {
            var x = Compute<T>(lib, a, n, p, epsilon, out var status);
            Assert.Equal(InverseRootStatus.Success, status);

            var power = x;
            for (var i = 1; i < p; i++)
            {
                power = DenseMatrix.Multiply(power, n, n, x, n, n);
            }

            var product = DenseMatrix.Multiply(power, n, n, regularised, n, n);
            // Backward-stable syevd perturbs A by O(nε‖A‖), which moves X^p·A away from I by O(nε·κ); the
            // check's own products add the same order. For fp32 the result is computed in fp64 and rounded once
            // per element (relative ε₃₂), and that error is amplified p times, again scaled by κ.
            var tol = Tolerance.ForPrecision<double>(n) * kappa + (typeof(T) == typeof(float) ? Tolerance.ForPrecision<float>(n) * p * kappa : 0);
            Tolerance.AssertClose(DenseMatrix.Identity(n), product, 0, tol, $"{TestPrecision.Name<T>()} {lib.Kind} X^{p}(A+εI), κ={kappa:F1}");
        }
    }

    /// <remarks>
    /// The root's condition: with ‖E‖ ≤ 8nε‖A‖ the backward error of syevd, f(A+E) − f(A) is bounded by
    /// max|f'| ‖E‖ = (1/p)(λ_min+ε)^{−1/p−1}·‖E‖, i.e. (1/p)·8nε·κ relative to ‖X‖ = (λ_min+ε)^{−1/p}.
    /// fp32 results are the fp64 root rounded once, so they also get ε₃₂ relative per element.
    /// </remarks>
    private static void MatchesReference<T>(BlasBackend lib, double[] a, int n, double p, double epsilon, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var input = a.Select(v => double.CreateChecked(T.CreateTruncating(v))).ToArray();
        var expected = JacobiEigen.MatrixFunction(input, n, l => Math.Pow(Math.Max(l, 0) + epsilon, -1 / p));
        var spectrum = JacobiEigen.Decompose(input, n).Values;
        var kappa = (Math.Max(spectrum[^1], 0) + epsilon) / (Math.Max(spectrum[0], 0) + epsilon);
        var scale = expected.Max(Math.Abs);

        var x = Compute<T>(lib, a, n, p, epsilon, out var status);

        Assert.Equal(InverseRootStatus.Success, status);
        var rel = typeof(T) == typeof(float) ? TestPrecision.Epsilon<float>() : 0;
        Tolerance.AssertClose(expected, x, rel, Tolerance.ForPrecision<double>(n) * kappa / p * scale, $"{TestPrecision.Name<T>()} {lib.Kind} {what}");
    }

    private static double[] Compute<T>(BlasBackend lib, double[] a, int n, double p, double epsilon, out InverseRootStatus status)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var input = a.Select(T.CreateTruncating).ToArray();
        var output = new T[n * n];
        using var root = new InverseRoot(n, lib, new BufferPool());
        status = root.Compute<T>(new ReadOnlyMatrixView<T>(input, n, n), p, epsilon, new MatrixView<T>(output, n, n));
        return output.Select(double.CreateChecked).ToArray();
    }

    private static InverseRootStatus ComputeIntoSentinel<T>(BlasBackend lib, double[] a, int n, out T[] output, double epsilon = 1e-6)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var input = a.Select(T.CreateTruncating).ToArray();
        output = new T[n * n];
        output.AsSpan().Fill(T.CreateChecked(Sentinel));
        using var root = new InverseRoot(n, lib, new BufferPool());
        return root.Compute<T>(new ReadOnlyMatrixView<T>(input, n, n), 4, epsilon, new MatrixView<T>(output, n, n));
    }

    /// <summary>Q·diag(λ)·Qᵀ for Q with orthonormal columns.</summary>
    private static double[] Conjugate(double[] q, double[] lambda, int n)
    {
        var scaled = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var k = 0; k < n; k++)
            {
                scaled[(i * n) + k] = q[(i * n) + k] * lambda[k];
            }
        }

        var a = DenseMatrix.Multiply(scaled, n, n, DenseMatrix.Transpose(q, n, n), n, n);
        // Exact symmetry, as a real statistic built by syrk has.
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                a[(i * n) + j] = a[(j * n) + i];
            }
        }

        return a;
    }
}
