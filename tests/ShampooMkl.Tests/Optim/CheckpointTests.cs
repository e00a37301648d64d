using ShampooMkl.Linalg;
using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Tests.Optim;

/// <summary>Checkpoints resume bit for bit, and every kind of damaged or foreign file is refused without touching the optimizer.</summary>
public sealed class CheckpointTests : IDisposable
{
    private const int TotalSteps = 9;
    private const int SaveAfter = 4;

    private readonly string folder = Directory.CreateTempSubdirectory("shampoo-checkpoint-").FullName;

    /// <summary>Options that exercise every piece of state: blocks, momentum, Adam grafting, EMA statistics, warm-started
    /// roots (eigenbases, refresh counters), a schedule, a start step.</summary>
    private static ShampooOptions RichOptions(FactorPrecision precision) => ShampooOptions.Shampoo with
    {
        FactorPrecision = precision,
        MaxPreconditionerDim = 4,
        PreconditionFrequency = 2,
        StartPreconditioningStep = 3,
        Beta2 = 0.99,
        Nesterov = true,
        WeightDecay = 0.01,
        Grafting = GraftingType.Adam,
        RootMethod = InverseRootMethod.EigenbasisWarmStart,
        FullEigendecompositionEvery = 3,
        Schedule = LearningRateSchedule.WarmupCosine(2, 20),
    };

    /// <summary>Every optimizer kind, Shampoo in both precisions.</summary>
    public static TheoryData<string> Kinds => new() { "Shampoo fp32", "Shampoo fp64", "AdamW", "Sgd" };

    private static ICheckpointable Create(string kind, IReadOnlyList<Parameter> parameters) => kind switch
    {
        "Shampoo fp32" => new Shampoo(parameters, RichOptions(FactorPrecision.Single)),
        "Shampoo fp64" => new Shampoo(parameters, RichOptions(FactorPrecision.Double)),
        _ => GradientValidationTests.Create(kind, parameters),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Resume_IsBitIdenticalToAnUninterruptedRun(string kind)
    {
        var path = Path.Combine(folder, "resume.ckpt");

        // Uninterrupted.
        var straight = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var reference = Create(kind, straight);
        for (var step = 1; step <= TotalSteps; step++)
        {
            OptimTestData.SetGradients(straight, step);
            Assert.True(reference.Step().Applied);
        }

        // Interrupted after SaveAfter steps; resumed in a new optimizer over new parameter objects that start elsewhere.
        var first = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using (var before = Create(kind, first))
        {
            for (var step = 1; step <= SaveAfter; step++)
            {
                OptimTestData.SetGradients(first, step);
                before.Step();
            }

            Checkpoint.Save(before, path);
        }

        var resumed = OptimTestData.Parameters(OptimTestData.SmallShapes, seed: 99);
        using var after = Create(kind, resumed);
        Checkpoint.Load(after, path);
        Assert.Equal(SaveAfter, after.StepCount);
        for (var step = SaveAfter + 1; step <= TotalSteps; step++)
        {
            OptimTestData.SetGradients(resumed, step);
            Assert.True(after.Step().Applied);
        }

        OptimTestData.AssertSameValues(straight.Select(p => p.Value).ToArray(), resumed, $"{kind} resumed at step {SaveAfter}");
        OptimTestData.AssertSameState(reference.ExportState(), after.ExportState(), $"{kind} resumed at step {SaveAfter}");
        Assert.Equal(reference.Statistics.RootRefreshes, after.Statistics.RootRefreshes);
        Assert.Equal(reference.Statistics.RefreshedBlocks, after.Statistics.RefreshedBlocks);
        Assert.Equal(reference.CurrentLearningRate, after.CurrentLearningRate);
    }

    [Fact]
    public void Save_IsAtomic_AndReadable()
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var optimizer = Create("Shampoo fp32", parameters);
        OptimTestData.SetGradients(parameters, 1);
        optimizer.Step();
        var path = Path.Combine(folder, "sub", "atomic.ckpt");

        Checkpoint.Save(optimizer, path);
        optimizer.Statistics.AddLog("a recovered failure");
        Checkpoint.Save(optimizer, path);

        Assert.Equal(["atomic.ckpt"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
        var contents = Checkpoint.Read(path);
        Assert.Equal(Shampoo.Kind, contents.Kind);
        Assert.Equal(optimizer.CheckpointSignature, contents.Signature);
        Assert.Contains("MaxPreconditionerDim = 4", contents.Options);
        Assert.Equal(["a recovered failure"], contents.Statistics.Log);
        OptimTestData.AssertSameState(optimizer.ExportState(), contents.Tensors, "read back");
    }

    [Fact]
    public void AnyFlippedByte_IsRefused_AndTheOptimizerIsUntouched()
    {
        var (optimizer, parameters, bytes) = SavedAndLive();
        using var _ = optimizer;
        var before = optimizer.ExportState();
        var values = parameters.Select(p => (float[])p.Value.Clone()).ToArray();
        var path = Path.Combine(folder, "flipped.ckpt");

        // Every byte of the fixed header and the checksum, and a spread through the payload.
        var positions = Enumerable.Range(0, 24)
            .Concat(Enumerable.Range(24, bytes.Length - 56).Where(i => i % 61 == 0))
            .Concat(Enumerable.Range(bytes.Length - 32, 32));
        foreach (var at in positions)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[at] ^= 0x10;
            File.WriteAllBytes(path, damaged);

            var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(optimizer, path));

            Assert.Contains("flipped.ckpt", error.Message);
        }

        OptimTestData.AssertSameState(before, optimizer.ExportState(), "after refused loads");
        OptimTestData.AssertSameValues(values, parameters, "after refused loads");
    }

    [Fact]
    public void TruncatedFile_IsRefused()
    {
        var (optimizer, _, bytes) = SavedAndLive();
        using var _ = optimizer;
        var path = Path.Combine(folder, "short.ckpt");
        foreach (var length in new[] { 0, 5, 8, 19, 40, bytes.Length / 2, bytes.Length - 33, bytes.Length - 1 })
        {
            File.WriteAllBytes(path, bytes.AsSpan(0, length).ToArray());
            Assert.Throws<InvalidDataException>(() => Checkpoint.Load(optimizer, path));
        }

        File.WriteAllBytes(path, [.. bytes, 0]);
        Assert.Contains("padded", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(optimizer, path)).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(-1)]
    [InlineData(1000)]
    public void UnknownFormatVersion_IsRefused(int version)
    {
        var (optimizer, _, bytes) = SavedAndLive();
        using var _ = optimizer;
        BitConverter.TryWriteBytes(bytes.AsSpan(8), version);
        var path = Path.Combine(folder, "version.ckpt");
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(optimizer, path));

        Assert.Contains($"format version {version}", error.Message);
    }

    [Fact]
    public void WrongMagic_IsRefused()
    {
        var path = Path.Combine(folder, "not-a-checkpoint.ckpt");
        File.WriteAllText(path, "PK\u0003\u0004 this is a zip file, or anything else");
        var (optimizer, _, _) = SavedAndLive();
        using var _ = optimizer;

        Assert.Contains("not a ShampooMkl checkpoint", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(optimizer, path)).Message);
    }

    [Fact]
    public void CheckpointOfAnotherModelOrShape_IsRefused_AndLearningRateMayChange()
    {
        var (saved, _, bytes) = SavedAndLive();
        saved.Dispose();
        var path = Path.Combine(folder, "model.ckpt");
        File.WriteAllBytes(path, bytes);

        // Another shape of the same parameter.
        int[][] otherShapes = [[5, 6], [3, 2, 2], [5], [1, 7]];
        AssertRefused(new Shampoo(OptimTestData.Parameters(otherShapes), RichOptions(FactorPrecision.Single)), "p0 [5×6]");
        // Another precision, block size, grafting, root; momentum switched off.
        AssertRefused(Create("Shampoo fp64", OptimTestData.Parameters(OptimTestData.SmallShapes)), "precision=Double");
        foreach (var changed in new[]
        {
            RichOptions(FactorPrecision.Single) with { MaxPreconditionerDim = 8 },
            RichOptions(FactorPrecision.Single) with { Grafting = GraftingType.RmsProp },
            RichOptions(FactorPrecision.Single) with { Root = 2 },
            RichOptions(FactorPrecision.Single) with { Beta1 = 0, Nesterov = false },
            RichOptions(FactorPrecision.Single) with { Beta2 = 1 },
        })
        {
            AssertRefused(new Shampoo(OptimTestData.Parameters(OptimTestData.SmallShapes), changed), "incompatible options");
        }

        // Another optimizer kind.
        AssertRefused(new AdamW(OptimTestData.Parameters(OptimTestData.SmallShapes)), "cannot be loaded into AdamW");

        // Schedule, weight decay, Nesterov, ε, frequencies may change: training continues with the new ones. The base
        // learning rate is state: the checkpoint's is restored, and SetLearningRate retunes it after loading.
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var retuned = new Shampoo(parameters, RichOptions(FactorPrecision.Single) with
        {
            LearningRate = 0.001, Schedule = LearningRateSchedule.Constant, WeightDecay = 0, Nesterov = false, Epsilon = 1e-6,
            PreconditionFrequency = 5, StartPreconditioningStep = 1, GraftingEpsilon = 1e-6,
        });
        Checkpoint.Load(retuned, path);
        Assert.Equal(SaveAfter, retuned.StepCount);
        Assert.Equal(RichOptions(FactorPrecision.Single).LearningRate, retuned.GetLearningRate(0));
        retuned.SetLearningRate(0, 0.001);
        Assert.Equal(0.001, retuned.CurrentLearningRate);

        void AssertRefused(ICheckpointable optimizer, string expected)
        {
            using var _ = optimizer;
            var before = optimizer.ExportState();
            var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(optimizer, path));
            Assert.Contains(expected, error.Message);
            OptimTestData.AssertSameState(before, optimizer.ExportState(), $"after refusing ({expected})");
        }
    }

    [Fact]
    public void ImportState_WithABadValueDeepInside_RollsBackEverything()
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var optimizer = Create("Shampoo fp64", parameters);
        for (var step = 1; step <= 5; step++)
        {
            OptimTestData.SetGradients(parameters, step);
            optimizer.Step();
        }

        var before = optimizer.ExportState();
        // A state from elsewhere (every array different, counters kept valid) whose last block has a negative ε: the
        // structure is right, so the first parameters' parts import before the bad one is found, and must be rolled back.
        var foreign = before.Select(t => t.Data.Length > 1 ? t with { Data = t.Data.Select(x => x * 0.5).ToArray() } : t).ToList();
        var last = foreign.FindLastIndex(t => t.Name.EndsWith(".epsilon", StringComparison.Ordinal));
        foreign[last] = foreign[last] with { Data = [-1.0] };

        Assert.Throws<InvalidDataException>(() => optimizer.ImportState(foreign));

        OptimTestData.AssertSameState(before, optimizer.ExportState(), "after a refused import");
        Assert.Contains("'p0/value' is missing",
            Assert.Throws<InvalidDataException>(() => optimizer.ImportState(before.Where(t => t.Name != "p0/value").ToList())).Message);
        Assert.Contains("does not belong",
            Assert.Throws<InvalidDataException>(() => optimizer.ImportState([.. before, StateTensor.Scalar("extra", 1)])).Message);
        OptimTestData.AssertSameState(before, optimizer.ExportState(), "after refused imports");
    }

    [Fact]
    public void BlockedPreconditioner_ValidatesEveryBlockBeforeImportingAny()
    {
        // Regression: it used to check only the four matrices of each block up front, so a bad scalar of the last block
        // was found after the earlier blocks had been replaced.
        using var blocked = new BlockedShampooPreconditioner<double>(6, 5, 4);
        blocked.Update(OptimTestData.Gradient(30, 0, 1).Select(x => (double)x).ToArray());
        blocked.RefreshRoots();
        var before = blocked.ExportState();
        var other = before.Select(t => t with { Data = t.Data.Select(x => x + 1).ToArray() }).ToList();
        var bad = other.FindIndex(t => t.Name == "block3.scale");
        other[bad] = other[bad] with { Data = [0.0] };

        Assert.Throws<InvalidDataException>(() => blocked.ImportState(other));

        OptimTestData.AssertSameState(before, blocked.ExportState(), "blocked preconditioner after a refused import");
    }

    private (ICheckpointable Optimizer, Parameter[] Parameters, byte[] Bytes) SavedAndLive()
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var optimizer = Create("Shampoo fp32", parameters);
        for (var step = 1; step <= SaveAfter; step++)
        {
            OptimTestData.SetGradients(parameters, step);
            optimizer.Step();
        }

        var path = Path.Combine(folder, $"saved-{Guid.NewGuid():N}.ckpt");
        Checkpoint.Save(optimizer, path);
        // Move the live optimizer away from the saved state, so an accidental partial load would show.
        OptimTestData.SetGradients(parameters, SaveAfter + 1);
        optimizer.Step();
        return (optimizer, parameters, File.ReadAllBytes(path));
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
