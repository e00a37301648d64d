using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>Shampoo's steps against <see cref="ReferenceShampoo"/>, for every option that changes the mathematics.</summary>
/// <remarks>
/// Three steps with roots refreshed at every one (frequency 1), parameters compared after each step, so the first
/// step (statistics of one gradient), the accumulation and the momentum across steps are all checked.
/// Tolerances, relative to the largest change of a parameter in the step (plus 2 fp32 ulps of the parameter, the
/// storage precision no computation can beat). fp64 factors: the only differences from the reference are LAPACK vs
/// Jacobi (≈1e-13 relative), which the fp32 rounding of the parameters almost always absorbs (every case here
/// matches bit for bit), so 1e-8. fp32 factors: L and R are rounded to fp32 (6e-8 per entry) and the roots moved by
/// the factor's condition number times that, then demoted to fp32, and direction and momentum run in fp32; measured
/// ≤ 5e-5 (worst: Shampoo², whose p = 2 root and Tr(H)^{1/2} scale are twice as sensitive as p = 4), so 2e-4.
/// </remarks>
public class ShampooReferenceTests
{
    private const int Steps = 3;

    /// <summary>One case per option that changes the formulas; each runs with fp64 and fp32 factors.</summary>
    public static TheoryData<string, FactorPrecision> Cases
    {
        get
        {
            var data = new TheoryData<string, FactorPrecision>();
            foreach (var name in Variants.Keys)
            {
                data.Add(name, FactorPrecision.Double);
                data.Add(name, FactorPrecision.Single);
            }

            return data;
        }
    }

    private static readonly ShampooOptions Plain = new()
    {
        LearningRate = 0.05,
        Beta1 = 0,
        Grafting = GraftingType.None,
        PreconditionFrequency = 1,
        // Well above fp32 round-off of the factors, so the fp32 runs measure precision, not ε-regularised null spaces.
        Epsilon = 1e-4,
    };

    private static readonly Dictionary<string, ShampooOptions> Variants = new()
    {
        ["Shampoo p=4"] = Plain,
        ["Shampoo p=4, DS ε=1e-12"] = Plain with { Epsilon = 1e-12 },
        ["Shampoo² (p=2, trace-normalised)"] = Plain with { Root = 2, TraceNormalized = true },
        ["p=3, not normalised"] = Plain with { Root = 3 },
        ["grafting SGD"] = Plain with { Grafting = GraftingType.Sgd },
        ["grafting Adagrad"] = Plain with { Grafting = GraftingType.Adagrad },
        ["grafting RMSprop"] = Plain with { Grafting = GraftingType.RmsProp, GraftingBeta2 = 0.9, GraftingEpsilon = 1e-6 },
        ["grafting Adam"] = Plain with { Grafting = GraftingType.Adam },
        ["β₂=0.99 with bias correction"] = Plain with { Beta2 = 0.99 },
        ["β₂=0.99 without bias correction"] = Plain with { Beta2 = 0.99, BiasCorrection = false },
        ["blocking at 4"] = Plain with { MaxPreconditionerDim = 4 },
        ["momentum β₁=0.9"] = Plain with { Beta1 = 0.9 },
        ["momentum without bias correction"] = Plain with { Beta1 = 0.9, BiasCorrection = false },
        ["Nesterov"] = Plain with { Beta1 = 0.9, Nesterov = true },
        ["weight decay"] = Plain with { WeightDecay = 0.3 },
        ["grafting only before start step 3, refresh every 2"] = Plain with
        {
            Grafting = GraftingType.Adam, StartPreconditioningStep = 3, PreconditionFrequency = 2,
        },
        ["no grafting before start: plain SGD"] = Plain with { StartPreconditioningStep = 3 },
        ["everything: Shampoo², blocks, Adam grafting, EMA, Nesterov, decay, warm-up"] = ShampooOptions.ShampooSquared with
        {
            LearningRate = 0.05,
            Epsilon = 1e-4,
            PreconditionFrequency = 1,
            MaxPreconditionerDim = 4,
            Grafting = GraftingType.Adam,
            Beta2 = 0.95,
            Beta1 = 0.8,
            Nesterov = true,
            WeightDecay = 0.1,
            Schedule = LearningRateSchedule.WarmupCosine(2, 5, 0.1),
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Steps_MatchDenseReference(string variant, FactorPrecision precision)
    {
        var optimizer = StepsAgainstReference(Variants[variant] with { FactorPrecision = precision }, OptimTestData.SmallShapes, variant);
        Assert.Equal(Steps, optimizer.StepCount);
        Assert.Equal(0, optimizer.Statistics.FailedRootBlocks);
    }

    /// <summary>Takes <see cref="Steps"/> steps with the optimizer and the reference and compares the parameters after
    /// each; returns the (disposed) optimizer for its counters.</summary>
    private static Shampoo StepsAgainstReference(ShampooOptions options, int[][] shapes, string variant)
    {
        var parameters = OptimTestData.Parameters(shapes);
        var reference = new ReferenceShampoo(options, parameters.Select(p => (p.Shape.ToArray(), (float[])p.Value.Clone())));
        using var optimizer = new Shampoo(parameters, options);
        var (relative, ulps) = options.FactorPrecision == FactorPrecision.Double ? (1e-8, 2.0) : (2e-4, 2.0);

        for (var step = 1; step <= Steps; step++)
        {
            var before = parameters.Select(p => (float[])p.Value.Clone()).ToArray();
            var gradients = OptimTestData.SetGradients(parameters, step);
            var result = optimizer.Step();
            reference.Step(gradients);

            Assert.True(result.Applied, result.Message);
            for (var k = 0; k < parameters.Length; k++)
            {
                OptimTestData.AssertUpdateClose(before[k], reference.Value(k), parameters[k].Value, relative, ulps,
                    $"{variant}, {options.FactorPrecision}, step {step}, {parameters[k]}");
            }
        }

        return optimizer;
    }

    /// <summary>Shapes whose rows are several SIMD vectors long plus a remainder (lengths 37, 67, 41 for 4-, 8- and
    /// 16-wide vectors), so the vectorised grafting, momentum and update loops and their scalar tails both run.</summary>
    private static readonly int[][] LongShapes = [[19, 37], [67], [3, 41]];

    public static TheoryData<string, FactorPrecision> LongCases
    {
        get
        {
            var data = new TheoryData<string, FactorPrecision>();
            foreach (var name in new[] { "grafting Adagrad", "grafting SGD", "Nesterov", "weight decay", "everything: Shampoo², blocks, Adam grafting, EMA, Nesterov, decay, warm-up" })
            {
                data.Add(name, FactorPrecision.Double);
                data.Add(name, FactorPrecision.Single);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(LongCases))]
    public void Steps_MatchDenseReference_OnRowsLongerThanAVector(string variant, FactorPrecision precision)
    {
        // Nesterov and weight decay alone have no grafting; with Adagrad grafting the vectorised norms run as well.
        var grafting = variant is "Nesterov" or "weight decay" ? GraftingType.Adagrad : Variants[variant].Grafting;
        StepsAgainstReference(Variants[variant] with { FactorPrecision = precision, Grafting = grafting }, LongShapes, variant);
    }

    [Fact]
    public void FirstStep_WithoutGraftingOrMomentum_IsTheOrthogonalFactorOfTheGradient()
    {
        // One gradient G = U S Vᵀ gives L = U S² Uᵀ and R = V S² Vᵀ, so L^{-1/4} G R^{-1/4} = U Vᵀ: a closed form
        // independent of any eigensolver, checked through the whole optimizer.
        var parameter = new Parameter("w", new float[3 * 3], 3, 3);
        float[] gradient = [2, 0, 0, 0, 0, -3, 0, 0.5f, 0];
        gradient.CopyTo(parameter.Gradient, 0);
        using var optimizer = new Shampoo([parameter], Plain with { Epsilon = 0, LearningRate = 1, FactorPrecision = FactorPrecision.Double });

        optimizer.Step();

        float[] expected = [-1, 0, 0, 0, 0, 1, 0, -1, 0];
        Reference.Tolerance.AssertClose(expected, parameter.Value, 0, 1e-7, "−U Vᵀ");
    }
}
