using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>Options validate with messages naming the property; defaults and presets are what the documentation says.</summary>
public class OptionsTests
{
    [Fact]
    public void RecommendedPresets_AreTheDocumentedOnes()
    {
        // The values their doc comments and the README promise; the CLI and demo train with them.
        var squared = ShampooOptions.RecommendedShampooSquared;
        Assert.Equal((2.0, true, 5e-3, GraftingType.Adam, 0.999, 1e-4, 10, 0.0, 0.9, true),
            (squared.Root, squared.TraceNormalized, squared.LearningRate, squared.Grafting, squared.Beta2, squared.Epsilon,
                squared.PreconditionFrequency, squared.WeightDecay, squared.Beta1, squared.BiasCorrection));
        var classic = ShampooOptions.RecommendedShampoo;
        Assert.Equal((4.0, false, 3e-3, GraftingType.Adam, 0.999, 1e-6, 10, 0.0, 0.9, true),
            (classic.Root, classic.TraceNormalized, classic.LearningRate, classic.Grafting, classic.Beta2, classic.Epsilon,
                classic.PreconditionFrequency, classic.WeightDecay, classic.Beta1, classic.BiasCorrection));
        Assert.Equal(LearningRateSchedule.Constant, classic.Schedule);
    }

    [Fact]
    public void Defaults_AreTheDocumentedOnes()
    {
        var o = ShampooOptions.Shampoo;
        Assert.Equal(0.01, o.LearningRate);
        Assert.Equal(0.9, o.Beta1);
        Assert.False(o.Nesterov);
        Assert.Equal(1.0, o.Beta2);
        Assert.Equal(1e-12, o.Epsilon);
        Assert.Equal(0, o.WeightDecay);
        Assert.Equal(1024, o.MaxPreconditionerDim);
        Assert.Equal(10, o.PreconditionFrequency);
        Assert.Equal(10, o.EffectiveStartPreconditioningStep);
        Assert.Equal(4, o.Root);
        Assert.False(o.TraceNormalized);
        Assert.Equal(GraftingType.Adagrad, o.Grafting);
        Assert.Equal(1e-10, o.EffectiveGraftingEpsilon);
        Assert.True(o.BiasCorrection);
        Assert.Equal(FactorPrecision.Double, o.FactorPrecision);
        Assert.Equal(2, ShampooOptions.ShampooSquared.Root);
        Assert.True(ShampooOptions.ShampooSquared.TraceNormalized);
        Assert.Equal(0.99, (o with { Grafting = GraftingType.RmsProp }).EffectiveGraftingBeta2);
        Assert.Equal(0.999, (o with { Grafting = GraftingType.Adam }).EffectiveGraftingBeta2);
        Assert.Equal(1e-8, (o with { Grafting = GraftingType.Adam }).EffectiveGraftingEpsilon);
        Assert.Equal(3, (o with { StartPreconditioningStep = 3 }).EffectiveStartPreconditioningStep);
        var p = ShampooOptions.ShampooSquared.ToPreconditionerOptions();
        Assert.Equal((2.0, true, 1e-12, 1.0), (p.Root, p.TraceNormalized, p.Epsilon, p.Beta2));
    }

    public static TheoryData<string, string> InvalidShampoo => new()
    {
        { nameof(ShampooOptions.LearningRate), "lr" },
        { nameof(ShampooOptions.Beta1), "b1" },
        { nameof(ShampooOptions.Nesterov), "nesterov" },
        { nameof(ShampooOptions.Beta2), "b2" },
        { nameof(ShampooOptions.Epsilon), "eps" },
        { nameof(ShampooOptions.WeightDecay), "wd" },
        { nameof(ShampooOptions.MaxPreconditionerDim), "dim" },
        { nameof(ShampooOptions.PreconditionFrequency), "freq" },
        { nameof(ShampooOptions.StartPreconditioningStep), "start" },
        { nameof(ShampooOptions.Root), "root" },
        { nameof(ShampooOptions.GraftingEpsilon), "geps" },
        { nameof(ShampooOptions.GraftingEpsilon), "geps-none" },
        { nameof(ShampooOptions.GraftingBeta2), "gb2" },
        { nameof(ShampooOptions.GraftingBeta2), "gb2-adagrad" },
        { nameof(ShampooOptions.FullEigendecompositionEvery), "full" },
        { nameof(ShampooOptions.EpsilonGrowthOnFailure), "growth" },
        { nameof(ShampooOptions.DiagonalEpsilon), "deps" },
        { nameof(ShampooOptions.RefreshParallelism), "par" },
        { "TotalSteps", "schedule" },
    };

    [Theory]
    [MemberData(nameof(InvalidShampoo))]
    public void InvalidShampooOption_IsRefused_NamingIt(string property, string which)
    {
        var o = ShampooOptions.Shampoo;
        var bad = which switch
        {
            "lr" => o with { LearningRate = double.NaN },
            "b1" => o with { Beta1 = 1 },
            "nesterov" => o with { Beta1 = 0, Nesterov = true },
            "b2" => o with { Beta2 = 0 },
            "eps" => o with { Epsilon = -1 },
            "wd" => o with { WeightDecay = -0.1 },
            "dim" => o with { MaxPreconditionerDim = 0 },
            "freq" => o with { PreconditionFrequency = 0 },
            "start" => o with { StartPreconditioningStep = 0 },
            "root" => o with { Root = 0 },
            "geps" => o with { GraftingEpsilon = 0 },
            "geps-none" => o with { Grafting = GraftingType.None, GraftingEpsilon = 1e-8 },
            "gb2" => o with { Grafting = GraftingType.Adam, GraftingBeta2 = 1.5 },
            "gb2-adagrad" => o with { GraftingBeta2 = 0.9 },
            "full" => o with { FullEigendecompositionEvery = 0 },
            "growth" => o with { EpsilonGrowthOnFailure = 0.5 },
            "deps" => o with { DiagonalEpsilon = double.PositiveInfinity },
            "par" => o with { RefreshParallelism = -1 },
            "schedule" => o with { Schedule = new LearningRateSchedule { WarmupSteps = 10, TotalSteps = 5 } },
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };

        var error = Assert.ThrowsAny<ArgumentException>(bad.Validate);
        Assert.Equal(property, error.ParamName);
        var parameter = new Parameter("w", new float[4], 2, 2);
        Assert.ThrowsAny<ArgumentException>(() => new Shampoo([parameter], bad));
        Assert.ThrowsAny<ArgumentException>(() => new Shampoo([new ParameterGroup([parameter], _ => bad)]));
    }

    [Fact]
    public void BaselineOptions_AreValidated()
    {
        var p = new Parameter("w", new float[4], 2, 2);
        Assert.Equal("Beta2", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([p], new AdamWOptions { Beta2 = 1 })).ParamName);
        Assert.Equal("Epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([p], new AdamWOptions { Epsilon = 0 })).ParamName);
        Assert.Equal("Nesterov", Assert.Throws<ArgumentException>(() => new Sgd([p], new SgdOptions { Momentum = 0, Nesterov = true })).ParamName);
        Assert.Equal("Momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([p], new SgdOptions { Momentum = -0.1 })).ParamName);
    }

    [Fact]
    public void Schedule_WarmsUpLinearly_ThenDecaysByCosine()
    {
        var s = LearningRateSchedule.WarmupCosine(4, 14, finalFactor: 0.1);
        Assert.Equal(0.25, s.Factor(1));
        Assert.Equal(1.0, s.Factor(4));
        Assert.Equal(0.1 + (0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.5))), s.Factor(9), 15);
        Assert.Equal(0.1, s.Factor(14), 15);
        Assert.Equal(0.1, s.Factor(1000), 15);
        Assert.Equal(1.0, LearningRateSchedule.Constant.Factor(123));
        Assert.Equal(0.5, LearningRateSchedule.LinearWarmup(2).Factor(1));
        Assert.Equal(1.0, LearningRateSchedule.LinearWarmup(2).Factor(50));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.WarmupCosine(5, 10, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.LinearWarmup(-1));
    }

    [Fact]
    public void ParameterGroups_HaveTheirOwnOptions()
    {
        var weight = new Parameter("w", new float[6], 2, 3);
        var bias = new Parameter("b", [1f, 1f, 1f], 3);
        var defaults = ShampooOptions.Shampoo with { LearningRate = 0.1, WeightDecay = 0.5, Schedule = LearningRateSchedule.LinearWarmup(10) };
        using var optimizer = new Shampoo(
            [new ParameterGroup([weight]), new ParameterGroup([bias], o => o with { LearningRate = 0.2, WeightDecay = 0 })],
            defaults);

        Assert.Equal([weight, bias], optimizer.Parameters);
        Assert.Equal(0.01, optimizer.CurrentLearningRate, 15);
        Assert.Equal(0.02, optimizer.LearningRateOf(bias), 15);
        Assert.Equal(0.5, optimizer.GroupOptions[0].WeightDecay);

        // A zero gradient moves nothing but weight decay: only the weight group decays.
        weight.Value.AsSpan().Fill(1);
        optimizer.Step();
        Assert.All(weight.Value, w => Assert.Equal((float)(1 - (0.01 * 0.5)), w));
        Assert.All(bias.Value, b => Assert.Equal(1f, b));
        Assert.Throws<ArgumentException>(() => optimizer.LearningRateOf(new Parameter("x", [0f], 1)));
    }
}
