using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>The finite-state guarantee (docs/design.md, 'The block table and the step'): whatever option value the
/// validator accepts and whatever finite gradient comes in, no step leaves a parameter or any optimizer state NaN or
/// infinite; a step that would is not applied, counted as skipped, reported, and leaves the state bit-identical.</summary>
public class FiniteStateTests
{
    private const int Steps = 6;

    /// <summary>Option values at the edge of what validation accepts.</summary>
    private static readonly (string Name, Func<ShampooOptions, ShampooOptions> Apply)[] Hostile =
    [
        ("root 1e-3", o => o with { Root = 1e-3 }),
        ("lr 1e300", o => o with { LearningRate = 1e300 }),
        ("lr max", o => o with { LearningRate = double.MaxValue }),
        ("weight decay 1e300", o => o with { WeightDecay = 1e300 }),
    ];

    /// <summary>Shampoo configurations: every grafting, Nesterov, decay, Shampoo², both factor precisions.</summary>
    private static readonly (string Name, ShampooOptions Options)[] Configurations =
    [
        ("adagrad fp64", ShampooOptions.Shampoo),
        ("none fp32 nesterov", ShampooOptions.Shampoo with { Grafting = GraftingType.None, FactorPrecision = FactorPrecision.Single, Nesterov = true }),
        ("sgd fp64 decay", ShampooOptions.Shampoo with { Grafting = GraftingType.Sgd, WeightDecay = 0.1, Beta1 = 0 }),
        ("rmsprop fp32 squared", ShampooOptions.ShampooSquared with { Grafting = GraftingType.RmsProp, FactorPrecision = FactorPrecision.Single }),
        ("adam fp64 squared ema", ShampooOptions.ShampooSquared with { Grafting = GraftingType.Adam, Beta2 = 0.99, Nesterov = true }),
        ("none fp64 squared", ShampooOptions.ShampooSquared with { Grafting = GraftingType.None, Beta1 = 0 }),
    ];

    public static TheoryData<string, string, bool> ShampooCases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var (h, _) in Hostile)
        {
            foreach (var (c, _) in Configurations)
            {
                data.Add(h, c, false);
                data.Add(h, c, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ShampooCases))]
    public void Shampoo_WithHostileOptions_NeverMakesStateNonFinite(string hostile, string configuration, bool fp64Parameters)
    {
        var options = Hostile.Single(h => h.Name == hostile).Apply(Configurations.Single(c => c.Name == configuration).Options) with
        {
            MaxPreconditionerDim = 4, PreconditionFrequency = 2, StartPreconditioningStep = 2,
        };
        var parameters = Parameters(fp64Parameters);
        using var optimizer = new Shampoo(parameters, options);
        RunAndCheck(optimizer, parameters, $"{hostile}, {configuration}, fp64 W {fp64Parameters}");
    }

    public static TheoryData<string, string> ElementwiseCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "AdamW", "Sgd" })
        {
            foreach (var hostile in new[] { "lr 1e300", "lr max", "weight decay 1e300" })
            {
                data.Add(kind, hostile);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ElementwiseCases))]
    public void ElementwiseOptimizers_WithHostileOptions_NeverMakeStateNonFinite(string kind, string hostile)
    {
        var (lr, decay) = hostile switch
        {
            "lr 1e300" => (1e300, 0.0),
            "lr max" => (double.MaxValue, 0.0),
            _ => (0.01, 1e300),
        };
        foreach (var fp64 in new[] { false, true })
        {
            var parameters = Parameters(fp64);
            using ICheckpointable optimizer = kind == "AdamW"
                ? new AdamW(parameters, AdamWOptions.Default with { LearningRate = lr, WeightDecay = decay })
                : new Sgd(parameters, SgdOptions.Default with { LearningRate = lr, WeightDecay = decay, Momentum = 0.9, Nesterov = true });
            RunAndCheck(optimizer, parameters, $"{kind}, {hostile}, fp64 W {fp64}");
        }
    }

    [Theory]
    [InlineData(FactorPrecision.Single, false, 1e100)]
    [InlineData(FactorPrecision.Double, true, 1e200)]
    [InlineData(FactorPrecision.Double, true, 1e300)]
    public void Shampoo_WithHugeFp64Gradients_RefusesTheStep_StateBitIdentical(FactorPrecision precision, bool vector, double magnitude)
    {
        // fp64 gradients beyond what fp32 statistics (or fp64 sums of squares) can hold.
        var w = vector ? new Parameter("w", SeededRandom.Gaussian(5, 6), 6) : new Parameter("w", SeededRandom.Gaussian(5, 6), 2, 3);
        using var optimizer = new Shampoo([w], ShampooOptions.Shampoo with { FactorPrecision = precision, PreconditionFrequency = 1 });
        w.GetGradient<double>().Fill(0.5);
        Assert.True(optimizer.Step().Applied);
        var before = optimizer.ExportState();
        w.GetGradient<double>().Fill(magnitude);
        w.GetGradient<double>()[1] = -magnitude;

        var result = optimizer.Step();

        Assert.False(result.Applied, result.Message);
        Assert.Contains("not applied", result.Message, StringComparison.Ordinal);
        Assert.Equal(1, optimizer.Statistics.SkippedSteps);
        Assert.Equal(1, optimizer.StepCount);
        OptimTestData.AssertSameState(before, optimizer.ExportState(), "after the refused step");
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(1e300)]
    public void Distributed_RanksAgreeOnEveryStep_AsOneProcess(double learningRate)
    {
        // Without grafting a rank cannot certify blocks it does not own and runs those steps checked, while the owner may
        // certify them: both paths must give the single process's steps, refusals included.
        var options = ShampooOptions.Shampoo with
        {
            Grafting = GraftingType.None, LearningRate = learningRate, MaxPreconditionerDim = 4, PreconditionFrequency = 2,
            StartPreconditioningStep = 2, Beta1 = 0.5,
        };
        var single = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var reference = new Shampoo(single, options);
        var expected = new List<bool>();
        for (var t = 1; t <= 4; t++)
        {
            SetGradients(single, t);
            expected.Add(reference.Step().Applied);
        }

        var applied = new List<bool>[2];
        var states = new IReadOnlyList<StateTensor>[2];
        DistributedRefreshTests.RunRanks((rank, communicator) =>
        {
            var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
            using var optimizer = new Shampoo(parameters, options, communicator: communicator);
            applied[rank] = [];
            for (var t = 1; t <= 4; t++)
            {
                SetGradients(parameters, t);
                applied[rank].Add(optimizer.Step().Applied);
            }

            optimizer.GatherState();
            states[rank] = optimizer.ExportState();
        });

        for (var rank = 0; rank < 2; rank++)
        {
            Assert.Equal(expected, applied[rank]);
            OptimTestData.AssertSameState(reference.ExportState(), states[rank], $"rank {rank}");
        }

        Assert.Equal(learningRate < 1, expected.All(a => a));
    }

    /// <summary>fp32, fp64 or mixed parameters over the shared small shapes (blocked matrix, rank-3, vectors).</summary>
    private static Parameter[] Parameters(bool fp64)
    {
        var fp32 = OptimTestData.Parameters(OptimTestData.SmallShapes);
        return fp64
            ? fp32.Select(p => new Parameter(p.Name, p.GetValues<float>().ToArray().Select(x => (double)x).ToArray(), [.. p.Shape])).ToArray()
            : fp32;
    }

    private static void SetGradients(IReadOnlyList<Parameter> parameters, long step)
    {
        for (var k = 0; k < parameters.Count; k++)
        {
            var g = OptimTestData.Gradient(parameters[k].Length, k, step);
            if (parameters[k].ElementType == ParameterPrecision.Single)
            {
                g.CopyTo(parameters[k].GetGradient<float>());
            }
            else
            {
                for (var i = 0; i < g.Length; i++)
                {
                    parameters[k].GetGradient<double>()[i] = g[i];
                }
            }
        }
    }

    /// <summary>Steps with ordinary gradients; after each, every state tensor is finite, and a step not applied left the
    /// state bit-identical, was counted and reported.</summary>
    private static void RunAndCheck(ICheckpointable optimizer, IReadOnlyList<Parameter> parameters, string what)
    {
        var skipped = 0L;
        for (var t = 1; t <= Steps; t++)
        {
            SetGradients(parameters, t);
            var before = optimizer.ExportState();
            var result = optimizer.Step();
            var after = optimizer.ExportState();
            foreach (var tensor in after)
            {
                Assert.True(tensor.Data.All(double.IsFinite), $"{what}: step {t} left '{tensor.Name}' non-finite ({result.Message}).");
            }

            if (!result.Applied)
            {
                skipped++;
                Assert.Contains("not applied", result.Message, StringComparison.Ordinal);
                OptimTestData.AssertSameState(before, after, $"{what}: refused step {t}");
            }

            Assert.Equal(skipped, optimizer.Statistics.SkippedSteps);
        }
    }
}
