using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary><see cref="Checkpoint"/>'s <see cref="Stream"/> overloads: the file's bytes, exactly the checkpoint's length
/// read, and the same refusals as a file (the optimizer unchanged).</summary>
public sealed class CheckpointStreamTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("shampoo-checkpoint-stream-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static Shampoo Trained(Parameter[] parameters, int steps)
    {
        var optimizer = new Shampoo(parameters, ShampooOptions.RecommendedShampooSquared with { PreconditionFrequency = 2, MaxPreconditionerDim = 4 });
        for (var step = 1; step <= steps; step++)
        {
            OptimTestData.SetGradients(parameters, step);
            optimizer.Step();
        }

        return optimizer;
    }

    [Fact]
    public void Save_WritesTheFilesBytes()
    {
        using var optimizer = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes), 3);
        var path = Path.Combine(folder, "a.ckpt");
        Checkpoint.Save(optimizer, path);
        using var stream = new MemoryStream();
        Checkpoint.Save(optimizer, stream);
        Assert.Equal(File.ReadAllBytes(path), stream.ToArray());
    }

    [Fact]
    public void TwoCheckpointsInOneStream_LoadOneAfterTheOther()
    {
        using var early = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes), 2);
        using var late = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes), 5);
        using var stream = new MemoryStream();
        Checkpoint.Save(early, stream);
        Checkpoint.Save(late, stream);
        stream.Position = 0;

        using var target = new Shampoo(OptimTestData.Parameters(OptimTestData.SmallShapes, seed: 5), early.Options);
        Checkpoint.Load(target, stream);
        Assert.Equal(2, target.StepCount);
        Checkpoint.Load(target, stream);
        Assert.Equal(5, target.StepCount);
        OptimTestData.AssertSameState(late.ExportState(), target.ExportState(), "second checkpoint of the stream");
        Assert.Equal(stream.Length, stream.Position);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(30)]
    [InlineData(-1)]
    public void ATruncatedStream_IsRefused_AndTheOptimizerIsUnchanged(int keep)
    {
        using var source = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes), 3);
        using var full = new MemoryStream();
        Checkpoint.Save(source, full);
        var bytes = full.ToArray();
        var cut = bytes[..(keep >= 0 ? keep : bytes.Length - 1)];

        using var target = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes, seed: 5), 1);
        var before = target.ExportState();
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(target, new MemoryStream(cut)));
        Assert.StartsWith("The checkpoint stream", error.Message, StringComparison.Ordinal);
        Assert.Contains(keep == 5 ? "not 'SHMPCKPT'" : "truncated", error.Message, StringComparison.Ordinal);
        OptimTestData.AssertSameState(before, target.ExportState(), "after a refused stream");
    }

    [Fact]
    public void AnAlteredStream_IsRefusedByItsChecksum()
    {
        using var source = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes), 3);
        using var full = new MemoryStream();
        Checkpoint.Save(source, full);
        var bytes = full.ToArray();
        bytes[bytes.Length / 2] ^= 1;
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Read(new MemoryStream(bytes)));
        Assert.Equal("The checkpoint stream is corrupted: its SHA-256 checksum does not match its contents.", error.Message);
    }

    [Fact]
    public void AStreamOfTheWrongDirection_IsRefusedNamingIt()
    {
        using var optimizer = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes), 1);
        using var readOnly = new MemoryStream(new byte[16], writable: false);
        var save = Assert.Throws<ArgumentException>(() => Checkpoint.Save(optimizer, readOnly));
        Assert.Equal("stream", save.ParamName);
        Assert.Contains("cannot be written", save.Message, StringComparison.Ordinal);

        using var writeOnly = new FileStream(Path.Combine(folder, "w.ckpt"), FileMode.Create, FileAccess.Write);
        var load = Assert.Throws<ArgumentException>(() => Checkpoint.Load(optimizer, writeOnly));
        Assert.Equal("stream", load.ParamName);
        Assert.Contains("cannot be read", load.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACheckpointOfAnotherOptimizer_IsRefusedNamingTheStream()
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var adam = new AdamW(parameters);
        using var stream = new MemoryStream();
        Checkpoint.Save(adam, stream);
        stream.Position = 0;
        using var shampoo = Trained(OptimTestData.Parameters(OptimTestData.SmallShapes), 1);
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(shampoo, stream));
        Assert.StartsWith("The checkpoint stream holds the state of the AdamW optimizer", error.Message, StringComparison.Ordinal);
    }
}
