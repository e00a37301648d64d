using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Tests.Optim;

/// <summary>While a step runs on one thread, every other call that reads or replaces the state (checkpoint export,
/// import, save and load, a second step, dispose) is refused on another thread, and the step ends exactly as an
/// undisturbed one.</summary>
public sealed class ExclusiveUseTests : IDisposable
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(1);
    private readonly string folder = Directory.CreateTempSubdirectory("shampoo-exclusive-").FullName;

    public static TheoryData<string> Kinds => GradientValidationTests.Optimizers;

    [Theory]
    [MemberData(nameof(Kinds))]
    public void CheckpointCalls_DuringAStepOnAnotherThread_AreRefused_AndTheStepIsUndisturbed(string kind)
    {
        var (optimizer, gate) = Create(kind);
        var (reference, _) = Create(kind);
        using var o = optimizer;
        using var r = reference;
        using var g = gate;
        Step(optimizer, gate, 1);
        Step(reference, null, 1);
        var before = Path.Combine(folder, "before.ckpt");
        Checkpoint.Save(optimizer, before);
        var exported = optimizer.ExportState();

        SetGradients(optimizer, gate, 2);
        gate.Arm();
        var result = default(StepResult);
        var stepper = new Thread(() => result = optimizer.Step());
        stepper.Start();
        Assert.True(gate.WaitUntilHeld(HangGuard), "The step never reached the gradient.");

        var during = Path.Combine(folder, "during.ckpt");
        try
        {
            AssertRefused(() => Checkpoint.Save(optimizer, during), "Checkpoint.Save");
            Assert.False(File.Exists(during), "A refused save wrote a file.");
            AssertRefused(() => Checkpoint.Load(optimizer, before), "Checkpoint.Load");
            AssertRefused(() => optimizer.ExportState(), "ExportState");
            AssertRefused(() => optimizer.ImportState(exported), "ImportState");
            AssertRefused(() => optimizer.Step(), "Step");
            AssertRefused(optimizer.Dispose, "Dispose");
            if (optimizer is Shampoo shampoo)
            {
                AssertRefused(shampoo.GatherState, "GatherState");
            }
        }
        finally
        {
            // Released whatever happened, so a failed assertion is reported as itself and no thread stays held.
            gate.Release();
            stepper.Join();
        }

        Assert.True(result.Applied, $"{kind}: the held step was not applied: {result.Message}");
        Step(reference, null, 2);
        OptimTestData.AssertSameState(reference.ExportState(), optimizer.ExportState(), $"{kind} after the held step");
        Assert.Equal(2, optimizer.StepCount);

        // Once the step is over the same calls work.
        Checkpoint.Save(optimizer, during);
        Checkpoint.Load(optimizer, before);
        OptimTestData.AssertSameState(exported, optimizer.ExportState(), $"{kind} reloaded");
    }

    [Fact]
    public void NestedCallsOnTheHoldingThread_AreAllowed_ButNeverInsideAStep()
    {
        var use = new ExclusiveUse("Test");
        using (use.Enter("Checkpoint.Save"))
        {
            using (use.Enter("ExportState"))
            {
                Assert.True(use.IsHeld);
            }

            Assert.True(use.IsHeld);
            var error = Assert.Throws<InvalidOperationException>(() =>
            {
                using var step = use.Enter("Step", isStep: true);
            });
            Assert.Contains("Test.Step was refused", error.Message, StringComparison.Ordinal);
        }

        Assert.False(use.IsHeld);
        using (use.Enter("Step", isStep: true))
        {
            var error = Assert.Throws<InvalidOperationException>(() =>
            {
                using var export = use.Enter("ExportState");
            });
            Assert.Contains("Test.Step is running on this thread", error.Message, StringComparison.Ordinal);
        }

        Assert.False(use.IsHeld);
    }

    private static void AssertRefused(Action call, string what)
    {
        var error = Assert.Throws<InvalidOperationException>(call);
        Assert.Contains("is running on another thread", error.Message, StringComparison.Ordinal);
        Assert.Contains(what, error.Message, StringComparison.Ordinal);
    }

    /// <summary>An optimizer over the small shapes whose first parameter reads its gradient through a gate.</summary>
    private static (ICheckpointable Optimizer, GatedMemory Gate) Create(string kind)
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var gate = new GatedMemory(new float[parameters[0].Length]);
        parameters[0].BindGradient(gate.Memory);
        return (GradientValidationTests.Create(kind, parameters), gate);
    }

    private static void SetGradients(ICheckpointable optimizer, GatedMemory? gate, long step)
    {
        var p = optimizer.Parameters;
        for (var k = 0; k < p.Count; k++)
        {
            var gradient = OptimTestData.Gradient(p[k].Length, k, step);
            gradient.CopyTo(k == 0 && gate is not null ? gate.Data : p[k].GetGradient<float>());
        }
    }

    private static void Step(ICheckpointable optimizer, GatedMemory? gate, long step)
    {
        SetGradients(optimizer, gate, step);
        Assert.True(optimizer.Step().Applied);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
