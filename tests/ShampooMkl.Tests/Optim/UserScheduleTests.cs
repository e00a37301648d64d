using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary><see cref="LearningRateSchedule.FromFunction"/>: a user schedule of the step, checked before a step changes
/// anything, and resumed bit-exactly from a checkpoint stream when given again.</summary>
public class UserScheduleTests
{
    private static double Halving(long step) => step <= 3 ? 1.0 : 0.5;

    public static TheoryData<string> Kinds => ["Shampoo", "AdamW", "Sgd"];

    private static ICheckpointable Create(string kind, IReadOnlyList<Parameter> parameters, LearningRateSchedule schedule) => kind switch
    {
        "Shampoo" => new Shampoo(parameters, ShampooOptions.RecommendedShampooSquared with { PreconditionFrequency = 3, MaxPreconditionerDim = 4, Schedule = schedule }),
        "AdamW" => new AdamW(parameters, AdamWOptions.Default with { Schedule = schedule }),
        "Sgd" => new Sgd(parameters, SgdOptions.Default with { Schedule = schedule }),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void TheFunction_IsTheFactorOfEachStep(string kind)
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var optimizer = Create(kind, parameters, LearningRateSchedule.FromFunction(t => 1.0 / t));
        var rate = optimizer.GetLearningRate(0);
        for (var step = 1; step <= 4; step++)
        {
            Assert.Equal(rate * (1.0 / step), optimizer.CurrentLearningRate);
            OptimTestData.SetGradients(parameters, step);
            optimizer.Step();
        }
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1.0)]
    [InlineData(double.PositiveInfinity)]
    public void ABadFactor_RefusesTheStep_AndChangesNothing(double bad)
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var optimizer = Create("Shampoo", parameters, LearningRateSchedule.FromFunction(t => t == 2 ? bad : 1.0));
        OptimTestData.SetGradients(parameters, 1);
        optimizer.Step();
        var before = optimizer.ExportState();
        OptimTestData.SetGradients(parameters, 2);

        var error = Assert.Throws<InvalidOperationException>(() => optimizer.Step());
        Assert.Contains("returned", error.Message, StringComparison.Ordinal);
        Assert.Contains("No state was changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, optimizer.StepCount);
        OptimTestData.AssertSameState(before, optimizer.ExportState(), "after a refused step");
    }

    [Fact]
    public void AThrowingFunction_RefusesTheStep_NamingTheGroup()
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var optimizer = Create("Sgd", parameters, LearningRateSchedule.FromFunction(_ => throw new InvalidCastException("boom")));
        OptimTestData.SetGradients(parameters, 1);
        var error = Assert.Throws<InvalidOperationException>(() => optimizer.Step());
        Assert.Contains("parameter group 0 threw at step 1 (boom)", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, optimizer.StepCount);
    }

    [Fact]
    public void FromFunction_WithWarmupAlsoSet_IsRefused()
    {
        var schedule = LearningRateSchedule.FromFunction(Halving) with { WarmupSteps = 4 };
        var error = Assert.Throws<ArgumentException>(schedule.Validate);
        Assert.Contains("FromFunction", error.Message, StringComparison.Ordinal);
        Assert.True(schedule.IsFunction);
        Assert.False(LearningRateSchedule.Constant.IsFunction);
        Assert.Throws<ArgumentNullException>(() => LearningRateSchedule.FromFunction(null!));
    }

    /// <summary>A run with a user schedule and a rate set midway, checkpointed to a stream after step 4 and resumed
    /// with the same function, ends bit-identical to the uninterrupted run.</summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void ResumeFromAStream_WithTheSameFunction_IsBitExact(string kind)
    {
        var schedule = LearningRateSchedule.FromFunction(Halving);
        var straight = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var reference = Create(kind, straight, schedule);
        var interrupted = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var first = Create(kind, interrupted, schedule);
        using var stream = new MemoryStream();
        for (var step = 1; step <= 4; step++)
        {
            if (step == 3)
            {
                reference.SetLearningRate(0, reference.GetLearningRate(0) * 0.3);
                first.SetLearningRate(0, first.GetLearningRate(0) * 0.3);
            }

            OptimTestData.SetGradients(straight, step);
            reference.Step();
            OptimTestData.SetGradients(interrupted, step);
            first.Step();
        }

        Checkpoint.Save(first, stream);
        stream.Position = 0;
        var resumed = OptimTestData.Parameters(OptimTestData.SmallShapes, seed: 77);
        using var after = Create(kind, resumed, LearningRateSchedule.FromFunction(Halving));
        Checkpoint.Load(after, stream);
        Assert.Equal(stream.Length, stream.Position);
        for (var step = 5; step <= 8; step++)
        {
            OptimTestData.SetGradients(straight, step);
            reference.Step();
            OptimTestData.SetGradients(resumed, step);
            after.Step();
        }

        OptimTestData.AssertSameValues(straight.Select(p => p.Value).ToArray(), resumed, $"{kind} resumed from a stream");
        OptimTestData.AssertSameState(reference.ExportState(), after.ExportState(), $"{kind} resumed from a stream");
        Assert.Equal(reference.CurrentLearningRate, after.CurrentLearningRate);
    }
}
