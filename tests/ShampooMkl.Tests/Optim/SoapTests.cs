using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>The eigenvalue-corrected (SOAP) preconditioner against <see cref="ReferenceSoap"/>, its permutation on
/// refresh, checkpoints, allocations, options and a training check.</summary>
/// <remarks>
/// Tolerance of the reference comparisons (fp64 parameters and factors, parameters compared after every step): the two
/// differ only by rounding: gemm/syrk vs loops (≈ k·2⁻⁵³ relative per product), syevd vs Jacobi and Householder QR
/// vs Gram–Schmidt (eigenvectors to ≈ 2⁻⁵³·‖A‖/gap, a few 1e-15 for the random statistics here). Adam's division by
/// √V' + ε amplifies an absolute error of M' by at most 1/√V'_min, and each step's error is carried by M and the
/// bases into the next; over 24 steps that stays below 1e-12 of the accumulated parameter change (measured ≤ 1e-13),
/// so 1e-9 leaves three digits of margin and still fails on any error of the algorithm (a wrong permutation, bias
/// correction or step order moves the parameters by ≥ 1e-3 of their change). fp32 parameters are rounded to fp32
/// after every step in both, so they are compared to 4 fp32 ulps.
/// </remarks>
public class SoapTests
{
    private const int Steps = 24;

    /// <summary>fp32 factors: statistics, bases, moments and direction in fp32 (2⁻²⁴ per operation, the bases to
    /// ≈ 2⁻²⁴·‖A‖/gap), compared with the fp64 reference: measured between 1e-6 and 1e-5 of the parameters' change
    /// over the 24 steps, so 1e-4.</summary>
    private const double FactorSingleTolerance = 1e-4;

    private static ShampooOptions Soap(int frequency = 3) => ShampooOptions.RecommendedSoap with
    {
        LearningRate = 0.02,
        Beta1 = 0.9,
        Beta2 = 0.95,
        ShampooBeta = 0.8,
        PreconditionFrequency = frequency,
    };

    /// <summary>Shape, options and parameter precision of each reference case.</summary>
    private static readonly Dictionary<string, (int[] Shape, ShampooOptions Options, bool Single)> Cases = new()
    {
        ["6×6, power-step refresh every 3"] = ([6, 6], Soap(), false),
        ["5×5, full syevd at every refresh"] = ([5, 5], Soap() with { EigenbasisRefresh = EigenbasisRefresh.Eigendecomposition }, false),
        ["4×12, right side above max dim (left only)"] = ([4, 12], Soap() with { MaxPreconditionerDim = 8 }, false),
        ["12×4, left side above max dim (right only)"] = ([12, 4], Soap() with { MaxPreconditionerDim = 8 }, false),
        ["vector of 7 (Adam)"] = ([7], Soap(), false),
        ["6×6, statistics β = β₂ (SOAP's default), no weight decay"] = ([6, 6], Soap() with { ShampooBeta = null, WeightDecay = 0 }, false),
        ["6×6, no bias correction, refresh every step"] = ([6, 6], Soap(1) with { BiasCorrection = false }, false),
        ["5×5 fp32 parameter"] = ([5, 5], Soap(), true),
        ["6×6 fp32 factors"] = ([6, 6], Soap() with { FactorPrecision = FactorPrecision.Single }, false),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Soap_MatchesDenseReference_OverStepsWithRefreshes(string name)
    {
        var (shape, options, single) = Cases[name];
        var count = shape.Aggregate(1, (a, b) => a * b);
        var (m, n) = shape.Length == 2 ? (shape[0], shape[1]) : (count, 1);
        var start = SeededRandom.Gaussian(11, count);
        var parameter = single
            ? new Parameter("w", start.Select(x => (float)x).ToArray(), shape)
            : new Parameter("w", (double[])start.Clone(), shape);
        var reference = new ReferenceSoap(m, n, shape.Length == 2, options.MaxPreconditionerDim, options.LearningRate, options.Beta1,
            options.Beta2, options.EffectiveShampooBeta, options.Epsilon, options.WeightDecay, options.PreconditionFrequency,
            options.EigenbasisRefresh == EigenbasisRefresh.Eigendecomposition, options.BiasCorrection);
        var expected = single ? start.Select(x => (double)(float)x).ToArray() : (double[])start.Clone();
        using var optimizer = new Shampoo([parameter], options);
        var initial = (double[])expected.Clone();
        for (var t = 1; t <= Steps; t++)
        {
            var g = Gradient(m, n, t, single);
            if (single)
            {
                g.Select(x => (float)x).ToArray().CopyTo(parameter.Gradient, 0);
            }
            else
            {
                g.CopyTo(parameter.GetGradient<double>());
            }

            Assert.True(optimizer.Step().Applied);
            reference.Step(expected, g);
            if (single)
            {
                for (var i = 0; i < expected.Length; i++)
                {
                    expected[i] = (float)expected[i];
                }
            }

            var actual = single ? parameter.Value.Select(x => (double)x).ToArray() : parameter.GetValues<double>().ToArray();
            var change = expected.Zip(initial, (e, s) => Math.Abs(e - s)).Max();
            if (t == 1)
            {
                Assert.Equal(initial, actual); // SOAP's first step only accumulates the statistics
                continue;
            }

            var tolerance = single ? 4 * 6e-8 * expected.Max(Math.Abs)
                : options.FactorPrecision == FactorPrecision.Single ? FactorSingleTolerance * change : 1e-9 * change;
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance,
                    $"{name}, step {t}, element {i}: expected {expected[i]:R}, got {actual[i]:R} (tolerance {tolerance:G3}).");
            }
        }

        var refreshes = shape.Length == 2 ? 1 + ((Steps - 2) / options.PreconditionFrequency) : 0;
        Assert.Equal(refreshes, optimizer.Statistics.RootRefreshes);
    }

    /// <summary>The gradients' dominant row direction moves from row 0 to row 3 halfway, so the sorted power step must
    /// reorder the left basis; the second moment must follow it (checked against the reference's V, and the basis up to
    /// the sign of each vector).</summary>
    [Fact]
    public void PowerStepRefresh_SortsTheEstimatedEigenvalues_AndPermutesTheSecondMoment()
    {
        const int m = 4, n = 5;
        var options = Soap(2) with { ShampooBeta = 0.5, WeightDecay = 0 };
        var parameter = new Parameter("w", new double[m * n], m, n);
        using var optimizer = new Shampoo([parameter], options);
        var reference = new ReferenceSoap(m, n, true, 100, options.LearningRate, options.Beta1, options.Beta2, 0.5, options.Epsilon, 0, 2);
        var w = new double[m * n];
        for (var t = 1; t <= 12; t++)
        {
            var g = Gradient(m, n, t, false);
            var loud = t <= 6 ? 0 : 3;
            for (var j = 0; j < n; j++)
            {
                g[(loud * n) + j] *= 20;
            }

            g.CopyTo(parameter.GetGradient<double>());
            optimizer.Step();
            reference.Step(w, g);
        }

        Assert.Contains(reference.Permutations, p => p.Side == 'L' && !p.Order.SequenceEqual(Enumerable.Range(0, m)));
        var state = optimizer.ExportState();
        var v = state.Single(s => s.Name == "w/soap.secondMoment").Data;
        Tolerance.AssertClose(reference.V, v, 1e-9, 1e-14, "second moment after permuted refreshes");
        var basis = state.Single(s => s.Name == "w/soap.Lbasis").Data;
        for (var i = 0; i < m; i++)
        {
            // Row i of the library's basis is column i of the reference's Q, up to sign.
            var sign = Math.Sign(basis[i * m] * reference.QL[i]) is 0 ? 1 : Math.Sign(basis[i * m] * reference.QL[i]);
            for (var j = 0; j < m; j++)
            {
                Assert.True(Math.Abs(basis[(i * m) + j] - (sign * reference.QL[(j * m) + i])) < 1e-9, $"basis vector {i}, entry {j}");
            }
        }

        Tolerance.AssertClose(w, parameter.GetValues<double>().ToArray(), 1e-9, 1e-12, "parameters");
    }

    [Theory]
    [InlineData(FactorPrecision.Double)]
    [InlineData(FactorPrecision.Single)]
    public void Checkpoint_ResumesBitExactly(FactorPrecision precision)
    {
        var options = Soap() with { FactorPrecision = precision };
        Parameter[] Make() => [new Parameter("w", SeededRandom.GaussianSingle(3, 30), 5, 6), new Parameter("b", SeededRandom.GaussianSingle(4, 6), 6)];
        void Feed(Parameter[] ps, int t)
        {
            Gradient(5, 6, t, true).Select(x => (float)x).ToArray().CopyTo(ps[0].Gradient, 0);
            Gradient(6, 1, t + 100, true).Select(x => (float)x).ToArray().CopyTo(ps[1].Gradient, 0);
        }

        var straight = Make();
        using var a = new Shampoo(straight, options);
        for (var t = 1; t <= 20; t++)
        {
            Feed(straight, t);
            a.Step();
        }

        var first = Make();
        using var b = new Shampoo(first, options);
        for (var t = 1; t <= 11; t++)
        {
            Feed(first, t);
            b.Step();
        }

        using var stream = new MemoryStream();
        Checkpoint.Save(b, stream);
        stream.Position = 0;
        var resumed = Make();
        using var c = new Shampoo(resumed, options);
        Checkpoint.Load(c, stream);
        for (var t = 12; t <= 20; t++)
        {
            Feed(resumed, t);
            c.Step();
        }

        Assert.Equal(straight[0].Value, resumed[0].Value);
        Assert.Equal(straight[1].Value, resumed[1].Value);
    }

    [Theory]
    [InlineData(FactorPrecision.Double)]
    [InlineData(FactorPrecision.Single)]
    public void Steps_AllocateNothing_SteadyAndRefreshing(FactorPrecision precision)
    {
        var parameters = new[] { new Parameter("w", SeededRandom.GaussianSingle(1, 48), 6, 8), new Parameter("b", SeededRandom.GaussianSingle(2, 8), 8) };
        using var optimizer = new Shampoo(parameters, Soap(2) with { FactorPrecision = precision, Schedule = LearningRateSchedule.WarmupCosine(5, 1000) });
        var gradients = Enumerable.Range(1, 2).Select(t => (W: Gradient(6, 8, t, true).Select(x => (float)x).ToArray(), B: Gradient(8, 1, t, true).Select(x => (float)x).ToArray())).ToArray();
        void Step(int i)
        {
            gradients[i % 2].W.CopyTo(parameters[0].Gradient, 0);
            gradients[i % 2].B.CopyTo(parameters[1].Gradient, 0);
            optimizer.Step();
        }

        for (var i = 0; i < 6; i++)
        {
            Step(i);
        }

        var refreshes = optimizer.Statistics.RootRefreshes;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++)
        {
            Step(i);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(refreshes + 10, optimizer.Statistics.RootRefreshes);
        Assert.True(allocated == 0, $"20 SOAP steps (10 refreshing) allocated {allocated} managed bytes.");
    }

    /// <summary>On a noisy quadratic whose Hessian is a Kronecker product of two rotated, badly conditioned matrices
    /// (condition 10³ each) and whose gradient noise has the same covariance (Fisher = Hessian, as for a well-specified
    /// model), SOAP, each at its best rate of a grid, ends at a far lower loss than Adam with the same moments and steps
    /// (fixed seeds).</summary>
    /// <remarks>Both are tuned because at a rate too small for either, Adam's sign-like steps on the unrotated
    /// coordinates lower the loss faster at first (the rotated gradient is concentrated on a few eigendirections);
    /// measured at 300 steps, best losses SOAP 1.1e-3 (η = 0.03) vs Adam 9.6e-3 (η = 0.03), from 0.56.</remarks>
    [Fact]
    public void Training_BadlyConditionedQuadratic_SoapBeatsAdam()
    {
        var soap = double.PositiveInfinity;
        var adam = double.PositiveInfinity;
        var initial = 0.0;
        foreach (var lr in new[] { 3e-3, 1e-2, 3e-2, 1e-1 })
        {
            var race = QuadraticRace(lr, 300);
            (soap, adam, initial) = (Math.Min(soap, race.Soap), Math.Min(adam, race.Adam), race.Initial);
        }

        Assert.True(soap < 0.01 * initial, $"SOAP: best loss {soap:G3} from {initial:G3}");
        Assert.True(soap < 0.25 * adam, $"SOAP's best loss {soap:G3} should be well below Adam's {adam:G3} (initial {initial:G3}).");
    }

    private static (double Soap, double Adam, double Initial) QuadraticRace(double lr, int steps)
    {
        const int m = 8, n = 8;
        var a = Conditioned(21, m);
        var b = Conditioned(22, n);
        var aRoot = Conditioned(21, m, 0.5);
        var bRoot = Conditioned(22, n, 0.5);
        var target = SeededRandom.Gaussian(23, m * n);
        double Loss(ReadOnlySpan<double> values, Span<double> gradient, int t)
        {
            var d = values.ToArray().Zip(target, (x, y) => x - y).ToArray();
            var adb = DenseMatrix.Multiply(DenseMatrix.Multiply(a, m, m, d, m, n), m, n, b, n, n);
            if (!gradient.IsEmpty)
            {
                var z = SeededRandom.Gaussian(5000 + t, m * n);
                var noise = DenseMatrix.Multiply(DenseMatrix.Multiply(aRoot, m, m, z, m, n), m, n, bRoot, n, n);
                for (var i = 0; i < m * n; i++)
                {
                    gradient[i] = adb[i] + (0.1 * noise[i]);
                }
            }

            return 0.5 * DenseMatrix.FrobeniusInner(d, adb);
        }

        double Train(IOptimizer optimizer, Parameter p)
        {
            for (var t = 0; t < steps; t++)
            {
                Loss(p.GetValues<double>(), p.GetGradient<double>(), t);
                optimizer.Step();
            }

            return Loss(p.GetValues<double>(), Span<double>.Empty, 0);
        }

        var soapParameter = new Parameter("w", new double[m * n], m, n);
        var adamParameter = new Parameter("w", new double[m * n], m, n);
        using var soap = new Shampoo([soapParameter], ShampooOptions.RecommendedSoap with { LearningRate = lr, WeightDecay = 0 });
        using var adam = new AdamW([adamParameter], new AdamWOptions { LearningRate = lr, Beta1 = 0.95, Beta2 = 0.95, WeightDecay = 0 });
        var initial = Loss(new double[m * n], Span<double>.Empty, 0);
        return (Train(soap, soapParameter), Train(adam, adamParameter), initial);
    }

    [Fact]
    public void Options_Grafting_IsRefusedWithOneLine()
    {
        var options = ShampooOptions.RecommendedSoap with { Grafting = GraftingType.Adam };
        var error = Assert.Throws<ArgumentException>(() => options.Validate());
        Assert.Equal("Grafting", error.ParamName);
        Assert.Contains("Grafting = None", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => (ShampooOptions.RecommendedSoap with { Beta2 = 1 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (ShampooOptions.RecommendedSoap with { ShampooBeta = 1 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (ShampooOptions.RecommendedSoap with { Epsilon = 0 }).Validate());
        Assert.Throws<ArgumentException>(() => (ShampooOptions.RecommendedSoap with { Nesterov = true }).Validate());
    }

    [Fact]
    public void Distributed_IsRefusedWithOneLine()
    {
        var ranks = InProcessCommunicator.Create(2);
        var parameter = new Parameter("w", new float[12], 3, 4);
        var error = Assert.Throws<NotSupportedException>(() => new Shampoo([parameter], ShampooOptions.RecommendedSoap, communicator: ranks[0]));
        Assert.Contains("not available distributed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PreconditionerOf_SoapParameter_SaysWhyThereIsNone()
    {
        var parameter = new Parameter("w", new float[12], 3, 4);
        using var optimizer = new Shampoo([parameter], ShampooOptions.RecommendedSoap);
        var error = Assert.Throws<InvalidOperationException>(() => optimizer.PreconditionerOf(parameter));
        Assert.Contains("'w'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RecommendedSoap_HasSoapsDefaults()
    {
        var o = ShampooOptions.RecommendedSoap;
        Assert.Equal(PreconditionerType.EigenvalueCorrected, o.Preconditioner);
        Assert.Equal((3e-3, 0.95, 0.95, 0.95, 1e-8, 0.01, 10, 10000), (o.LearningRate, o.Beta1, o.Beta2, o.EffectiveShampooBeta, o.Epsilon, o.WeightDecay, o.PreconditionFrequency, o.MaxPreconditionerDim));
        Assert.Equal(GraftingType.None, o.Grafting);
        Assert.Equal(EigenbasisRefresh.PowerStep, o.EigenbasisRefresh);
        Assert.True(o.BiasCorrection);
    }

    /// <summary>A fixed-seed gradient for step t, entries of different scales per row so the statistics are well separated.</summary>
    private static double[] Gradient(int m, int n, int t, bool single)
    {
        var g = SeededRandom.Gaussian(1000 + t, m * n);
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                g[(i * n) + j] *= 1 + (0.5 * i) + (0.25 * j);
            }
        }

        return single ? g.Select(x => (double)(float)x).ToArray() : g;
    }

    /// <summary>U·diag(1 … 10⁻³)·Uᵀ with a random orthogonal U (from Jacobi on a random SPD matrix).</summary>
    private static double[] Conditioned(int seed, int size, double power = 1)
    {
        var u = JacobiEigen.Decompose(SeededRandom.SymmetricPositiveDefinite(seed, size), size).Vectors;
        var d = new double[size * size];
        for (var i = 0; i < size; i++)
        {
            d[(i * size) + i] = Math.Pow(1e-3, power * i / (double)(size - 1));
        }

        return DenseMatrix.Multiply(DenseMatrix.Multiply(u, size, size, d, size, size), size, size, DenseMatrix.Transpose(u, size, size), size, size);
    }
}
