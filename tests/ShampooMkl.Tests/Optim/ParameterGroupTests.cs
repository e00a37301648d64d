using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>Parameter groups override only what they set (PyTorch semantics), and each group's reported rate is the rate
/// its update is taken with.</summary>
public class ParameterGroupTests
{
    private const int Steps = 10;

    /// <summary>Two fp64 parameters with seeded values and gradients bound to fresh arrays.</summary>
    private static (Parameter Weight, Parameter Bias, double[] WeightGradient, double[] BiasGradient) Model()
    {
        var weight = new Parameter("w", SeededRandom.Gaussian(1, 12), 3, 4);
        var bias = new Parameter("b", SeededRandom.Gaussian(2, 4), 4);
        var gw = new double[12];
        var gb = new double[4];
        weight.BindGradient(gw);
        bias.BindGradient(gb);
        return (weight, bias, gw, gb);
    }

    /// <summary>The reproduction: a WarmupCosine default, a group edited from the defaults; over 10 steps every
    /// group follows the schedule and the reported rate is the one the update used (Δw = −η·g with no momentum, no
    /// grafting and no preconditioning yet, so the update's size is the rate).</summary>
    [Theory]
    [InlineData("Shampoo")]
    [InlineData("Sgd")]
    public void Groups_InheritTheDefaultSchedule_AndReportTheRateTheyUse(string kind)
    {
        var schedule = LearningRateSchedule.WarmupCosine(warmupSteps: 3, totalSteps: 20, finalFactor: 0.1);
        var (weight, bias, gw, gb) = Model();
        using IOptimizer optimizer = kind == "Shampoo"
            ? new Shampoo(
                [new ParameterGroup([weight]), new ParameterGroup([bias], o => o with { LearningRate = 0.003 })],
                ShampooOptions.RecommendedShampooSquared with
                {
                    Schedule = schedule, Beta1 = 0, Grafting = GraftingType.None, StartPreconditioningStep = 1000, LearningRate = 0.01,
                })
            : new Sgd(
                [new ParameterGroup<SgdOptions>([weight]), new ParameterGroup<SgdOptions>([bias], o => o with { LearningRate = 0.003 })],
                SgdOptions.Default with { Schedule = schedule, Momentum = 0, LearningRate = 0.01 });

        double[] bases = [0.01, 0.003];
        for (var step = 1; step <= Steps; step++)
        {
            SeededRandom.Gaussian(100 + step, gw.Length).CopyTo(gw, 0);
            SeededRandom.Gaussian(200 + step, gb.Length).CopyTo(gb, 0);
            var reported = new[] { optimizer.GetCurrentLearningRate(0), optimizer.GetCurrentLearningRate(1) };
            Assert.Equal(reported[0], optimizer.CurrentLearningRate);
            var before = new[] { weight.GetValues<double>().ToArray(), bias.GetValues<double>().ToArray() };
            Assert.True(optimizer.Step().Applied);

            double[][] gradients = [gw, gb];
            Parameter[] parameters = [weight, bias];
            for (var g = 0; g < 2; g++)
            {
                Assert.Equal(bases[g] * schedule.Factor(step), reported[g], 15);
                var after = parameters[g].GetValues<double>();
                for (var i = 0; i < after.Length; i++)
                {
                    var used = (before[g][i] - after[i]) / gradients[g][i];
                    Assert.True(Math.Abs(used - reported[g]) <= 1e-9 * reported[g],
                        $"{kind} step {step}, group {g}: the update used rate {used}, the optimizer reported {reported[g]}.");
                }
            }
        }
    }

    [Fact]
    public void AGroup_KeepsEveryDefaultItDoesNotSet()
    {
        var (weight, bias, _, _) = Model();
        var defaults = ShampooOptions.RecommendedShampooSquared with { Schedule = LearningRateSchedule.LinearWarmup(5), Epsilon = 1e-6 };
        using var optimizer = new Shampoo([new ParameterGroup([weight]), new ParameterGroup([bias], o => o with { WeightDecay = 0.1 })], defaults);

        Assert.Same(defaults, optimizer.GroupOptions[0]);
        Assert.Equal(defaults with { WeightDecay = 0.1 }, optimizer.GroupOptions[1]);
        Assert.Same(defaults.Schedule, optimizer.GroupOptions[1].Schedule);
    }

    [Fact]
    public void AnOverride_ReturningNullOrInvalidOptions_IsRefusedNamingTheGroup()
    {
        var (weight, bias, _, _) = Model();
        var nothing = Assert.Throws<ArgumentException>(() => new Shampoo([new ParameterGroup([weight]), new ParameterGroup([bias], _ => null!)]));
        Assert.Contains("parameter group 1 returned null", nothing.Message, StringComparison.Ordinal);

        var invalid = Assert.ThrowsAny<ArgumentException>(() => new AdamW(
            [new ParameterGroup<AdamWOptions>([weight]), new ParameterGroup<AdamWOptions>([bias], o => o with { Beta1 = 1.5 })]));
        Assert.StartsWith("Parameter group 1: ", invalid.Message, StringComparison.Ordinal);
        Assert.Contains("β₁", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetCurrentLearningRate_RefusesAnUnknownGroup()
    {
        var (weight, _, _, _) = Model();
        using var optimizer = new Shampoo([weight]);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.GetCurrentLearningRate(1));
        Assert.Contains("no parameter group 1", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(ShampooOptions.RefreshParallelism))]
    [InlineData(nameof(ShampooOptions.DominantRefreshMinDim))]
    [InlineData(nameof(ShampooOptions.ThreadedRefreshMinDim))]
    public void GroupOverride_OfAProcessLevelKnob_IsRefused_NamingTheGroup(string knob)
    {
        // These act on the optimizer's one refresh scheduler; a group's value would be silently ignored.
        Func<ShampooOptions, ShampooOptions> change = knob switch
        {
            nameof(ShampooOptions.RefreshParallelism) => o => o with { RefreshParallelism = 3 },
            nameof(ShampooOptions.DominantRefreshMinDim) => o => o with { DominantRefreshMinDim = 7 },
            _ => o => o with { ThreadedRefreshMinDim = 9 },
        };
        var w = new Parameter("w", new float[6], 3, 2);
        var b = new Parameter("b", new float[3], 3);

        var e = Assert.Throws<ArgumentException>(() => new Shampoo([new ParameterGroup([w]), new ParameterGroup([b], change)], ShampooOptions.RecommendedShampooSquared));

        Assert.StartsWith("Parameter group 1: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(knob, e.Message, StringComparison.Ordinal);
        // The same value on the defaults is accepted, and groups inherit it.
        using var accepted = new Shampoo([new ParameterGroup([w]), new ParameterGroup([b])], change(ShampooOptions.RecommendedShampooSquared));
    }
}
