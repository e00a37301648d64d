using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Native;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Preconditioning;

public class ShampooPreconditionerTests
{
    private const int M = 6;
    private const int N = 4;

    public static TheoryData<BlasBackendKind, double, bool, double> Configurations()
    {
        var data = new TheoryData<BlasBackendKind, double, bool, double>();
        foreach (var kind in Backends.Loaded)
        {
            data.Add(kind, 4.0, false, 1.0);   // Shampoo, sums
            data.Add(kind, 2.0, true, 1.0);    // Shampoo², sums
            data.Add(kind, 4.0, false, 0.9);   // Shampoo, EMA with bias correction
            data.Add(kind, 2.0, true, 0.9);    // Shampoo², EMA
            data.Add(kind, 3.0, false, 1.0);   // any p
        }

        return data;
    }

    private static List<double[]> Gradients(int seed, int count, int m = M, int n = N) =>
        Enumerable.Range(0, count).Select(i => SeededRandom.Gaussian(seed + i, m * n)).ToList();

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Precondition_Fp64_MatchesDenseReference(BlasBackendKind kind, double root, bool traceNormalized, double beta2)
    {
        var options = new ShampooPreconditionerOptions { Root = root, TraceNormalized = traceNormalized, Beta2 = beta2, Epsilon = 1e-2 };
        using var p = new ShampooPreconditioner<double>(M, N, options, Backends.Get(kind));
        var history = Gradients(11, 5);
        foreach (var g in history)
        {
            p.Update(g);
        }

        Assert.True(p.RefreshRoots().Succeeded);
        var probe = SeededRandom.Gaussian(99, M * N);
        var actual = new double[M * N];
        p.Precondition(probe, actual);
        var expected = DenseShampoo.Direction(history, probe, M, N, root, 1e-2, beta2, traceNormalized);

        // ε = 1e-2 bounds κ(L + εI) by about 1e4 here; a backward-stable syevd loses at most ~κ·n·ε_64,
        // and the root compresses relative error by 1/p, so 1e4·n·ε_64 relative to the largest entry is safe.
        var scale = expected.Max(Math.Abs);
        Tolerance.AssertClose(expected, actual, 0, 1e4 * M * N * Tolerance.MachineEpsilon<double>() * scale, "fp64 direction");
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Precondition_Fp32_MatchesDenseReference(BlasBackendKind kind, double root, bool traceNormalized, double beta2)
    {
        var options = new ShampooPreconditionerOptions { Root = root, TraceNormalized = traceNormalized, Beta2 = beta2, Epsilon = 1e-1 };
        using var p = new ShampooPreconditioner<float>(M, N, options, Backends.Get(kind));
        var history = Gradients(21, 5).Select(g => g.Select(x => (double)(float)x).ToArray()).ToList();
        foreach (var g in history)
        {
            p.Update(g.Select(x => (float)x).ToArray());
        }

        Assert.True(p.RefreshRoots().Succeeded);
        var probe = SeededRandom.Gaussian(98, M * N).Select(x => (double)(float)x).ToArray();
        var actual = new float[M * N];
        p.Precondition(probe.Select(x => (float)x).ToArray(), actual);
        var expected = DenseShampoo.Direction(history, probe, M, N, root, 1e-1, beta2, traceNormalized);

        // Statistics are summed in fp32 (relative error ~ steps·n·ε_32) and the root's conditioning with ε = 0.1
        // is below ~1e3, so the direction carries ~1e3·n·ε_32 ≈ 3e-3 relative error at most.
        var scale = expected.Max(Math.Abs);
        Tolerance.AssertClose(expected, actual.Select(x => (double)x).ToArray(), 0, 1e3 * N * Tolerance.MachineEpsilon<float>() * scale, "fp32 direction");
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void ShampooSquared_ReproducesExactKroneckerCovariance(BlasBackendKind kind)
    {
        // Gradients G_kl = √(λ_k μ_l)·u_k v_lᵀ over all eigenpairs of SPD A (m×m) and B (n×n) make
        // H = Σ vec(G)vec(G)ᵀ = Σ λ_k μ_l (u_k⊗v_l)(u_k⊗v_l)ᵀ = A⊗B exactly (row-major vec(u vᵀ) = u⊗v).
        // Then L = Tr(B)·A, R = Tr(A)·B, Tr(H) = Tr(A)Tr(B), so L⊗R/Tr(H) = H: Shampoo² must precondition by H^{-1/2}.
        const int m = 3, n = 4;
        var a = SeededRandom.SymmetricPositiveDefinite(5, m, shift: 0.5);
        var b = SeededRandom.SymmetricPositiveDefinite(6, n, shift: 0.5);
        var ea = JacobiEigen.Decompose(a, m);
        var eb = JacobiEigen.Decompose(b, n);
        var gradients = new List<double[]>();
        for (var k = 0; k < m; k++)
        {
            for (var l = 0; l < n; l++)
            {
                var g = new double[m * n];
                var s = Math.Sqrt(ea.Values[k] * eb.Values[l]);
                for (var i = 0; i < m; i++)
                {
                    for (var j = 0; j < n; j++)
                    {
                        g[(i * n) + j] = s * ea.Vectors[(i * m) + k] * eb.Vectors[(j * n) + l];
                    }
                }

                gradients.Add(g);
            }
        }

        var h = new double[m * n * m * n];
        foreach (var g in gradients)
        {
            h = DenseMatrix.Add(h, DenseMatrix.OuterProduct(g, g));
        }

        Tolerance.AssertClose(DenseMatrix.Kronecker(a, m, b, n), h, 0, 1e-12, "construction gives H = A⊗B");
        var hInvSqrt = JacobiEigen.MatrixFunction(h, m * n, x => 1 / Math.Sqrt(x));

        using var squared = new ShampooPreconditioner<double>(m, n, ShampooPreconditionerOptions.ShampooSquared with { Epsilon = 0 }, Backends.Get(kind));
        using var classic = new ShampooPreconditioner<double>(m, n, ShampooPreconditionerOptions.Shampoo with { Epsilon = 0 }, Backends.Get(kind));
        foreach (var g in gradients)
        {
            squared.Update(g);
            classic.Update(g);
        }

        Assert.True(squared.RefreshRoots().Succeeded);
        Assert.True(classic.RefreshRoots().Succeeded);
        var probe = SeededRandom.Gaussian(7, m * n);
        var expected = DenseMatrix.MultiplyVector(hInvSqrt, m * n, m * n, probe);
        var actual = new double[m * n];
        squared.Precondition(probe, actual);
        Tolerance.AssertClose(expected, actual, 1e-9, 1e-12, "Shampoo² direction = H^{-1/2} g");

        // Classic Shampoo approximates H by L^{1/2}⊗R^{1/2} = √(Tr A Tr B)·A^{1/2}⊗B^{1/2} ≠ H: its direction must differ.
        classic.Precondition(probe, actual);
        var gap = DenseMatrix.FrobeniusNorm(DenseMatrix.Add(expected, DenseMatrix.Scale(actual, -1))) / DenseMatrix.FrobeniusNorm(expected);
        Assert.True(gap > 1e-3, $"Shampoo (p=4) should not reproduce H^{{-1/2}}g, relative gap {gap}");
    }

    [Fact]
    public void Update_ThrowsForWrongLength_AndLeavesStateUnchanged()
    {
        using var p = new ShampooPreconditioner<double>(M, N);
        p.Update(SeededRandom.Gaussian(1, M * N));
        var before = Snapshot(p);
        var e = Assert.Throws<ArgumentException>(() => p.Update(new double[(M * N) - 1]));
        Assert.Contains("needs 24", e.Message);
        Assert.Equal(before, Snapshot(p));
    }

    [Theory]
    [InlineData(double.NaN, 0)]
    [InlineData(double.PositiveInfinity, 23)]
    [InlineData(double.NegativeInfinity, 11)]
    public void Update_ThrowsForNonFiniteGradient_AndLeavesStateUnchanged(double bad, int index)
    {
        using var p = new ShampooPreconditioner<float>(M, N);
        p.Update(SeededRandom.GaussianSingle(1, M * N));
        p.RefreshRoots();
        var before = Snapshot(p);
        var g = SeededRandom.GaussianSingle(2, M * N);
        g[index] = (float)bad;
        var e = Assert.Throws<ArgumentException>(() => p.Update(g));
        Assert.Contains("NaN or infinite", e.Message);
        Assert.Equal(before, Snapshot(p));
    }

    [Fact]
    public void Blocked_NonFiniteInLastBlock_UpdatesNoBlock()
    {
        using var p = new BlockedShampooPreconditioner<double>(7, 5, 3);
        var before = Snapshot(p);
        var g = SeededRandom.Gaussian(3, 35);
        g[34] = double.NaN;
        Assert.Throws<ArgumentException>(() => p.Update(g));
        Assert.Equal(before, Snapshot(p));
    }

    [Fact]
    public void Precondition_ThrowsForOverlapAndWrongLength()
    {
        using var p = new ShampooPreconditioner<double>(M, N);
        var buffer = new double[M * N * 2];
        Assert.Throws<ArgumentException>(() => p.Precondition(buffer.AsSpan(0, M * N), buffer.AsSpan(1, M * N)));
        Assert.Throws<ArgumentException>(() => p.Precondition(new double[M * N], new double[(M * N) + 1]));
    }

    [Fact]
    public void BeforeFirstRefresh_PreconditioningIsIdentity()
    {
        using var p = new ShampooPreconditioner<double>(M, N);
        p.Update(SeededRandom.Gaussian(4, M * N));
        var g = SeededRandom.Gaussian(5, M * N);
        var d = new double[M * N];
        p.Precondition(g, d);
        Assert.False(p.HasRoots);
        Assert.Equal(g, d);
    }

    [Fact]
    public void FailedRefresh_KeepsPreviousRoots_AndRaisesEpsilon()
    {
        // With ε = 0 a zero statistic has no inverse root: the refresh must fail without touching the roots. p = 1/1000
        // and β₂ = 0.5 make a later failure easy to cause with finite statistics (they shrink under zero gradients).
        var options = ShampooPreconditionerOptions.Shampoo with { Epsilon = 0, Root = 1e-3, Beta2 = 0.5, BiasCorrection = false };
        using var p = new ShampooPreconditioner<double>(2, 2, options);
        var result = p.RefreshRoots();
        Assert.False(result.Succeeded);
        Assert.Contains("kept previous roots", result.Detail);
        Assert.False(p.HasRoots);
        Assert.Equal(1e-12, p.Epsilon);

        // Now succeed (L = ½I, root 2^1000), then fail once zero gradients shrank L to 2^-4·I, whose root 2^4000
        // overflows: the good roots survive.
        p.Update(new double[] { 1, 0, 0, 1 });
        Assert.True(p.RefreshRoots().Succeeded);
        var leftBefore = p.LeftRoot.ToArray();
        var rightBefore = p.RightRoot.ToArray();
        for (var i = 0; i < 3; i++)
        {
            p.Update(new double[4]);
        }

        var failed = p.RefreshRoots();
        Assert.False(failed.Succeeded);
        Assert.Contains("NonFiniteResult", failed.Detail);
        Assert.Equal(leftBefore, p.LeftRoot.ToArray());
        Assert.Equal(rightBefore, p.RightRoot.ToArray());
        Assert.Equal(2, p.FailedRefreshes);
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Blocked_EqualsIndependentBlocks(BlasBackendKind kind)
    {
        const int m = 7, n = 5, d = 3;
        var lib = Backends.Get(kind);
        var options = ShampooPreconditionerOptions.ShampooSquared with { Epsilon = 1e-3 };
        using var blocked = new BlockedShampooPreconditioner<double>(m, n, d, options, lib);
        Assert.Equal(6, blocked.Layout.Count); // rows 3,3,1 × cols 3,2
        var singles = blocked.Layout.Select(b => new ShampooPreconditioner<double>(b.Rows, b.Cols, options, lib)).ToList();
        var history = Gradients(31, 3, m, n);
        foreach (var g in history)
        {
            blocked.Update(g);
            for (var b = 0; b < singles.Count; b++)
            {
                singles[b].Update(Slice(g, n, blocked.Layout[b]));
            }
        }

        Assert.True(blocked.RefreshRoots().Succeeded);
        singles.ForEach(s => Assert.True(s.RefreshRoots().Succeeded));
        var probe = SeededRandom.Gaussian(77, m * n);
        var actual = new double[m * n];
        blocked.Precondition(probe, actual);
        for (var b = 0; b < singles.Count; b++)
        {
            var block = blocked.Layout[b];
            var expected = new double[block.Rows * block.Cols];
            singles[b].Precondition(Slice(probe, n, block), expected);
            Assert.Equal(expected, Slice(actual, n, block));
        }

        singles.ForEach(s => s.Dispose());
    }

    [Fact]
    public void ExportImport_RoundTripsExactly_AndRejectsBadState()
    {
        var options = ShampooPreconditionerOptions.Shampoo with { Epsilon = 1e-3, RootMethod = ShampooMkl.Linalg.InverseRootMethod.EigenbasisWarmStart };
        using var source = new ShampooPreconditioner<float>(M, N, options);
        foreach (var g in Gradients(41, 3))
        {
            source.Update(g);
        }

        source.RefreshRoots();
        var state = source.ExportState();
        using var target = new ShampooPreconditioner<float>(M, N, options);
        target.ImportState(state);
        Assert.Equal(Snapshot(source), Snapshot(target));

        // Further identical updates and a warm-start refresh stay bit-identical.
        var next = SeededRandom.GaussianSingle(42, M * N);
        source.Update(next);
        target.Update(next);
        source.RefreshRoots();
        target.RefreshRoots();
        Assert.Equal(Snapshot(source), Snapshot(target));

        var bad = state.Select(t => t.Name == "R" ? t with { Data = new double[3] } : t).ToList();
        var before = Snapshot(target);
        var e = Assert.Throws<InvalidDataException>(() => target.ImportState(bad));
        Assert.Contains("'R'", e.Message);
        Assert.Equal(before, Snapshot(target));
    }

    [Fact]
    public void SteadyStateUpdateAndPrecondition_AllocateNothing()
    {
        using var f32 = new BlockedShampooPreconditioner<float>(40, 30, 16, ShampooPreconditionerOptions.ShampooSquared);
        using var f64 = new BlockedShampooPreconditioner<double>(40, 30, 16, ShampooPreconditionerOptions.Shampoo);
        using var diag = new DiagonalPreconditioner(30, beta2: 0.99);
        var g = SeededRandom.GaussianSingle(8, 1200);
        var d = new float[1200];
        void Step()
        {
            f32.Update(g);
            f32.Precondition(g, d);
            f64.Update(g);          // fp32 gradient into fp64 statistics: the conversion path
            f64.Precondition(g, d);
            diag.Update(g.AsSpan(0, 30));
            diag.Precondition(g.AsSpan(0, 30), d.AsSpan(0, 30));
        }

        Step();
        f32.RefreshRoots();
        f64.RefreshRoots();
        Step();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++)
        {
            Step();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Diagonal_MatchesAdagradFormula_AndRejectsNonFinite()
    {
        using var p = new DiagonalPreconditioner(3, beta2: 0.5, epsilon: 1e-3);
        p.Update(new double[] { 1, 2, 3 });
        p.Update(new double[] { 3, 2, 1 });
        var d = new double[3];
        p.Precondition(new double[] { 1, 1, 1 }, d);
        // v = 0.5·(0.5·g1²) + 0.5·g2², bias correction 1 − 0.25 = 0.75.
        double[] v = [(0.25 * 1) + (0.5 * 9), (0.25 * 4) + (0.5 * 4), (0.25 * 9) + (0.5 * 1)];
        var expected = v.Select(x => 1 / (Math.Sqrt(x / 0.75) + 1e-3)).ToArray();
        Tolerance.AssertClose(expected, d, 1e-14, 0, "diagonal direction");
        Assert.Throws<ArgumentException>(() => p.Update(new double[] { 1, double.NaN, 1 }));
        Assert.Equal(2, p.UpdateCount);
    }

    /// <summary>The vectorised accumulate and direction give every element exactly the bits of the scalar formula
    /// (same operations, same order, IEEE-exact sqrt and division), for lengths around every vector width so the
    /// vector loops and their tails both run; Σd² has the bits of the documented eight-lane order (FixedOrderSum).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(33)]
    [InlineData(70)]
    [InlineData(1001)]
    public void Diagonal_VectorisedKernels_MatchScalarFormula(int length)
    {
        const double beta2 = 0.9;
        const double epsilon = 1e-3;
        using var p32 = new DiagonalPreconditioner(length, beta2, epsilon);
        using var p64 = new DiagonalPreconditioner(length, beta2, epsilon);
        var v = new double[length];
        float[] g32 = [];
        for (var step = 1; step <= 3; step++)
        {
            g32 = SeededRandom.GaussianSingle(40 + step, length);
            g32[0] = 0; // a zero gradient on an untouched accumulator: the denominator-zero branch when ε = 0 elsewhere
            p32.Update(g32);
            p64.Update(g32.Select(x => (double)x).ToArray());
            for (var i = 0; i < length; i++)
            {
                var gi = (double)g32[i];
                v[i] = (beta2 * v[i]) + ((1 - beta2) * gi * gi);
            }
        }

        Assert.Equal(v, p32.Accumulator.ToArray());
        Assert.Equal(v, p64.Accumulator.ToArray());
        var correction = 1 - Math.Pow(beta2, 3);
        var expected = v.Select((x, i) => g32[i] / (Math.Sqrt(x / correction) + epsilon)).ToArray();
        var d64 = new double[length];
        var d32 = new float[length];
        p64.Precondition(g32.Select(x => (double)x).ToArray(), d64);
        p32.Precondition(g32, d32);
        Assert.Equal(expected, d64);
        Assert.Equal(expected.Select(x => (float)x).ToArray(), d32);
        var sum = Linalg.FixedOrderSumTests.EightLaneReference(expected);
        Linalg.FixedOrderSumTests.AssertSameBits(sum, p32.SumOfSquaredDirections<float>(g32, 0, correction), "Σd², fp32 gradient");
        Linalg.FixedOrderSumTests.AssertSameBits(sum, p64.SumOfSquaredDirections<double>(g32.Select(x => (double)x).ToArray(), 0, correction),
            "Σd², fp64 gradient");
    }

    [Fact]
    public void Diagonal_ZeroDenominator_GivesZeroDirection_InVectorAndTail()
    {
        // ε = 0 and an accumulator that is still zero: 0/0 must become 0, not NaN, wherever the element falls.
        using var p = new DiagonalPreconditioner(37, beta2: 1.0, epsilon: 0);
        var g = new float[37];
        p.Update(g);
        var d = Enumerable.Repeat(float.NaN, 37).ToArray();
        p.Precondition(Enumerable.Repeat(1f, 37).ToArray(), d);
        Assert.All(d, x => Assert.Equal(0f, x));
        Assert.Equal(0.0, p.SumOfSquaredDirections<float>(Enumerable.Repeat(1f, 37).ToArray(), 0, 1.0));
    }

    /// <summary>The factors mirror their lower triangle on read, not on every update; reads after any number of updates
    /// (and after a restore) must still see the full symmetric Σ G Gᵀ and Σ Gᵀ G of a dense reference.</summary>
    [Fact]
    public void Factors_ReadAfterUpdates_AreFullSymmetricSums()
    {
        const int m = 37;
        const int n = 45;
        using var factors = new KroneckerFactors<double>(m, n, beta2: 1.0);
        var left = new double[m * m];
        var right = new double[n * n];
        for (var step = 0; step < 3; step++)
        {
            var g = SeededRandom.Gaussian(70 + step, m * n);
            factors.Accumulate(new ShampooMkl.Memory.ReadOnlyMatrixView<double>(g, m, n));
            left = DenseMatrix.Add(left, DenseMatrix.Multiply(g, m, n, DenseMatrix.Transpose(g, m, n), n, m));
            right = DenseMatrix.Add(right, DenseMatrix.Multiply(DenseMatrix.Transpose(g, m, n), n, m, g, m, n));
            if (step == 1)
            {
                // A read between updates, so the next update must make the lower triangle stale again.
                Tolerance.AssertClose(left, factors.Left.Data.ToArray(), 1e-13, 1e-12, "L after 2 updates");
            }
        }

        Tolerance.AssertClose(left, factors.Left.Data.ToArray(), 1e-13, 1e-12, "L");
        Tolerance.AssertClose(right, factors.Right.Data.ToArray(), 1e-13, 1e-12, "R");
    }

    private static double[] Slice(double[] whole, int cols, MatrixBlock block)
    {
        var part = new double[block.Rows * block.Cols];
        for (var i = 0; i < block.Rows; i++)
        {
            Array.Copy(whole, ((block.Row + i) * cols) + block.Col, part, i * block.Cols, block.Cols);
        }

        return part;
    }

    private static string Snapshot(IPreconditioner p) =>
        string.Join(";", p.ExportState().Select(t => t.Name + "=" + string.Join(",", t.Data.Select(x => BitConverter.DoubleToInt64Bits(x)))));
}
