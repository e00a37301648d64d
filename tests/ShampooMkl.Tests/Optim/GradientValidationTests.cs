using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>A bad gradient never reaches the state: NaN/±∞ skips the step, a wrong length throws, and either way
/// every exported tensor and every parameter value is bit-identical afterwards.</summary>
public class GradientValidationTests
{
    /// <summary>The three optimizers, each configured to keep every kind of state it has.</summary>
    public static TheoryData<string> Optimizers => new() { "Shampoo fp32", "Shampoo fp64", "AdamW", "Sgd" };

    internal static ICheckpointable Create(string kind, IReadOnlyList<Parameter> parameters) => kind switch
    {
        "Shampoo fp32" => new Shampoo(parameters, ShampooOptions.Shampoo with
        {
            FactorPrecision = FactorPrecision.Single,
            PreconditionFrequency = 2, MaxPreconditionerDim = 4, Grafting = GraftingType.Adam, Nesterov = true, WeightDecay = 0.01,
        }),
        "Shampoo fp64" => new Shampoo(parameters, ShampooOptions.ShampooSquared with
        {
            PreconditionFrequency = 2, FactorPrecision = FactorPrecision.Double, Beta2 = 0.99,
        }),
        "AdamW" => new AdamW(parameters),
        "Sgd" => new Sgd(parameters, new SgdOptions { Nesterov = true, WeightDecay = 0.01 }),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void NonFiniteGradient_SkipsTheStep_AndChangesNothing(string kind)
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var optimizer = Create(kind, parameters);
        for (var step = 1; step <= 3; step++)
        {
            OptimTestData.SetGradients(parameters, step);
            Assert.True(optimizer.Step().Applied);
        }

        foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var before = optimizer.ExportState();
            var values = parameters.Select(p => (float[])p.Value.Clone()).ToArray();
            var skipped = optimizer.Statistics.SkippedSteps;
            OptimTestData.SetGradients(parameters, 4);
            parameters[2].Gradient[3] = bad;

            var result = optimizer.Step();

            Assert.False(result.Applied);
            Assert.False(result.RefreshedRoots);
            Assert.Contains("'p2'", result.Message);
            Assert.Equal(skipped + 1, optimizer.Statistics.SkippedSteps);
            Assert.Equal(3, optimizer.StepCount);
            OptimTestData.AssertSameState(before, optimizer.ExportState(), $"{kind} after a {bad} gradient");
            OptimTestData.AssertSameValues(values, parameters, $"{kind} after a {bad} gradient");
        }

        // The next good step proceeds as step 4, with the schedule and bias corrections of step 4.
        OptimTestData.SetGradients(parameters, 4);
        Assert.True(optimizer.Step().Applied);
        Assert.Equal(4, optimizer.StepCount);
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void GradientOfWrongLength_Throws_BeforeAnyStateChanges(string kind)
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var optimizer = Create(kind, parameters);
        OptimTestData.SetGradients(parameters, 1);
        optimizer.Step();
        OptimTestData.SetGradients(parameters, 2);
        var before = optimizer.ExportState();
        var values = parameters.Select(p => (float[])p.Value.Clone()).ToArray();
        // Every other gradient is valid, and the first parameter's comes first: only a full check before any update
        // leaves its statistics untouched. A NaN elsewhere must not turn the programming error into a quiet skip.
        parameters[1].Gradient[0] = float.NaN;
        parameters[3].Gradient = new float[parameters[3].Length + 1];

        var error = Assert.Throws<ArgumentException>(() => optimizer.Step());

        Assert.Contains("'p3'", error.Message);
        Assert.Equal(0, optimizer.Statistics.SkippedSteps);
        Assert.Equal(1, optimizer.StepCount);
        OptimTestData.AssertSameState(before, optimizer.ExportState(), $"{kind} after a wrong-length gradient");
        OptimTestData.AssertSameValues(values, parameters, $"{kind} after a wrong-length gradient");
    }

    [Fact]
    public void Parameter_RefusesNullGradient()
    {
        var p = new Parameter("w", new float[4], 2, 2);
        Assert.Throws<ArgumentNullException>(() => p.Gradient = null!);
    }

    [Fact]
    public void Constructor_RefusesDuplicateParametersAndNames()
    {
        var a = new Parameter("a", new float[4], 2, 2);
        var b = new Parameter("a", new float[3], 3);

        Assert.Contains("more than once", Assert.Throws<ArgumentException>(() => new Shampoo([a, a])).Message);
        Assert.Contains("unique", Assert.Throws<ArgumentException>(() => new AdamW([a, b])).Message);
        Assert.Throws<ArgumentException>(() => new Sgd(Array.Empty<Parameter>()));
    }
}
