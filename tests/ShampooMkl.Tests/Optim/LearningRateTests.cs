using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Tests.Optim;

/// <summary>The per-group base learning rate (<see cref="IOptimizer.SetLearningRate"/>): the rate of the following
/// steps, validated, refused during a step, and restored by checkpoints.</summary>
public class LearningRateTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "shampoo-lr-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    public static TheoryData<string> Kinds => ["Shampoo", "AdamW", "Sgd"];

    private static ICheckpointable Create(string kind, IReadOnlyList<Parameter> parameters, double learningRate) => kind switch
    {
        "Shampoo" => new Shampoo(parameters, ShampooOptions.ShampooSquared with
        {
            LearningRate = learningRate, PreconditionFrequency = 3, MaxPreconditionerDim = 4, Schedule = LearningRateSchedule.LinearWarmup(4),
        }),
        "AdamW" => new AdamW(parameters, AdamWOptions.Default with { LearningRate = learningRate, Schedule = LearningRateSchedule.LinearWarmup(4) }),
        "Sgd" => new Sgd(parameters, SgdOptions.Default with { LearningRate = learningRate, Momentum = 0.9, Schedule = LearningRateSchedule.LinearWarmup(4) }),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SetLearningRate_IsTheBaseOfTheFollowingSteps_TimesTheSchedule(string kind)
    {
        using var optimizer = Create(kind, OptimTestData.Parameters(OptimTestData.SmallShapes), 0.01);
        Assert.Equal(1, optimizer.GroupCount);
        Assert.Equal(0.01, optimizer.GetLearningRate(0));
        Assert.Equal(0.01 * 0.25, optimizer.CurrentLearningRate);

        optimizer.SetLearningRate(0, 0.2);
        Assert.Equal(0.2, optimizer.GetLearningRate(0));
        Assert.Equal(0.2 * 0.25, optimizer.CurrentLearningRate);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ChangingTheRateMidway_EqualsAnOptimizerBuiltWithThatRate(string kind)
    {
        // a sets its rate after step 2; c is built with that rate in its options and takes over a's state after step 2
        // (everything but the rate, which stays c's own): the following steps must agree bit for bit.
        var pa = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var pc = OptimTestData.Parameters(OptimTestData.SmallShapes, seed: 33);
        using var a = Create(kind, pa, 0.01);
        using var c = Create(kind, pc, 0.003);
        for (var step = 1; step <= 2; step++)
        {
            OptimTestData.SetGradients(pa, step);
            a.Step();
        }

        var own = c.ExportState().Single(t => t.Name == "learningRates");
        c.ImportState([.. a.ExportState().Select(t => t.Name == own.Name ? own : t)]);
        Assert.Equal(0.003, c.GetLearningRate(0));
        a.SetLearningRate(0, 0.003);
        var before = pa.Select(p => (float[])p.Value.Clone()).ToArray();
        for (var step = 3; step <= 7; step++)
        {
            OptimTestData.SetGradients(pa, step);
            OptimTestData.SetGradients(pc, step);
            a.Step();
            c.Step();
        }

        OptimTestData.AssertSameValues(pc.Select(p => p.Value).ToArray(), pa, $"{kind} with the rate changed after step 2");
        Assert.False(pa[0].Value.AsSpan().SequenceEqual(before[0]), "the steps after the change moved nothing");
    }

    [Fact]
    public void Sgd_UpdateScalesWithTheNewRate()
    {
        // Plain SGD (no momentum, no decay, constant schedule): W ← W − η·g in fp64, rounded once.
        var w = new Parameter("w", [1f, -2f, 0.5f], 3);
        using var sgd = new Sgd([w], SgdOptions.Default with { LearningRate = 0.1, Momentum = 0 });
        w.Gradient[0] = 1f;
        w.Gradient[1] = 2f;
        w.Gradient[2] = -4f;
        sgd.Step();
        Assert.Equal((float)(1.0 - (0.1 * 1.0)), w.Value[0]);
        sgd.SetLearningRate(0, 0.25);
        var before = (float[])w.Value.Clone();
        sgd.Step();
        for (var k = 0; k < 3; k++)
        {
            Assert.Equal((float)(before[k] - (0.25 * w.Gradient[k])), w.Value[k]);
        }
    }

    [Fact]
    public void Groups_HaveTheirOwnRates()
    {
        var weight = new Parameter("w", new float[6], 2, 3);
        var bias = new Parameter("b", new float[3], 3);
        var defaults = ShampooOptions.Shampoo with { LearningRate = 0.1 };
        using var optimizer = new Shampoo([new ParameterGroup([weight]), new ParameterGroup([bias], o => o with { LearningRate = 0.2 })], defaults);
        Assert.Equal(2, optimizer.GroupCount);
        Assert.Equal(0.2, optimizer.GetLearningRate(1));

        optimizer.SetLearningRate(1, 0.05);
        Assert.Equal(0.1, optimizer.GetLearningRate(0));
        Assert.Equal(0.05, optimizer.LearningRateOf(bias));
        Assert.Equal(0.1, optimizer.LearningRateOf(weight));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1e-3)]
    [InlineData(double.PositiveInfinity)]
    public void InvalidRates_AreRefused_AndChangeNothing(double rate)
    {
        using var shampoo = Create("Shampoo", OptimTestData.Parameters(OptimTestData.SmallShapes), 0.01);
        using var adamw = Create("AdamW", OptimTestData.Parameters(OptimTestData.SmallShapes), 0.01);
        foreach (var optimizer in new[] { shampoo, adamw })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.SetLearningRate(0, rate));
            Assert.Contains("learning rate of parameter group 0 must be finite and ≥ 0", error.Message);
            Assert.Equal(0.01, optimizer.GetLearningRate(0));
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void UnknownGroups_AreRefused(int group)
    {
        using var optimizer = Create("AdamW", OptimTestData.Parameters(OptimTestData.SmallShapes), 0.01);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.SetLearningRate(group, 0.1));
        Assert.Contains($"There is no parameter group {group}", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.GetLearningRate(group));
    }

    [Fact]
    public void SetLearningRate_DuringAStep_IsRefused()
    {
        var parameters = OptimTestData.Parameters([[6, 5]]);
        using var optimizer = new Shampoo(parameters, ShampooOptions.ShampooSquared with { StartPreconditioningStep = 1, LearningRate = 0.01 });
        Exception? seen = null;
        optimizer.Scheduler.BlockStarting = (_, _) => seen ??= Record.Exception(() => optimizer.SetLearningRate(0, 0.5));
        OptimTestData.SetGradients(parameters, 1);
        Assert.True(optimizer.Step().RefreshedRoots);
        var error = Assert.IsType<InvalidOperationException>(seen);
        Assert.Contains("cannot change while a step is running", error.Message);
        Assert.Equal(0.01, optimizer.GetLearningRate(0));
        optimizer.SetLearningRate(0, 0.5);
        Assert.Equal(0.5, optimizer.GetLearningRate(0));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Checkpoints_RestoreTheRate_SoResumeIsBitExact(string kind)
    {
        var straight = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var reference = Create(kind, straight, 0.01);
        var path = Path.Combine(folder, kind + ".ckpt");
        for (var step = 1; step <= 8; step++)
        {
            if (step == 4)
            {
                reference.SetLearningRate(0, 0.004);
                Checkpoint.Save(reference, path);
            }

            OptimTestData.SetGradients(straight, step);
            reference.Step();
        }

        // Built with another rate: the checkpoint's rate wins, as PyTorch's load_state_dict restores lr.
        var resumed = OptimTestData.Parameters(OptimTestData.SmallShapes, seed: 77);
        using var after = Create(kind, resumed, 0.5);
        Checkpoint.Load(after, path);
        Assert.Equal(0.004, after.GetLearningRate(0));
        for (var step = 4; step <= 8; step++)
        {
            OptimTestData.SetGradients(resumed, step);
            after.Step();
        }

        OptimTestData.AssertSameValues(straight.Select(p => p.Value).ToArray(), resumed, $"{kind} resumed with a changed rate");
        OptimTestData.AssertSameState(reference.ExportState(), after.ExportState(), $"{kind} resumed with a changed rate");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ImportedNegativeRates_AreRefused_AndChangeNothing(string kind)
    {
        using var optimizer = Create(kind, OptimTestData.Parameters(OptimTestData.SmallShapes), 0.01);
        var state = optimizer.ExportState();
        var bad = state.Select(t => t.Name == "learningRates" ? t with { Data = [-0.5] } : t).ToList();
        var before = optimizer.ExportState();
        var error = Assert.Throws<InvalidDataException>(() => optimizer.ImportState(bad));
        Assert.Contains("learningRates", error.Message);
        OptimTestData.AssertSameState(before, optimizer.ExportState(), $"{kind} after refusing a negative rate");
        Assert.Equal(0.01, optimizer.GetLearningRate(0));
    }
}
