using ShampooMkl.Optim;
using TorchSharp.Modules;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>Optimizer checkpoints next to <c>module.save</c>: loading both into fresh objects resumes bit-exactly.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "shampoo-torch-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    public static TheoryData<string> Kinds => ["Shampoo²", "AdamW"];

    private static TorchOptimizer Create(string kind, Sequential model) => kind == "AdamW"
        ? new TorchAdamW(model.named_parameters(), AdamWOptions.Default with { LearningRate = 2e-3, WeightDecay = 1e-3 })
        : new TorchShampoo(model.named_parameters(), ShampooOptions.ShampooSquared with { LearningRate = 5e-3, PreconditionFrequency = 4, Epsilon = 1e-4 });

    private static void Train(Sequential model, TorchOptimizer optimizer, int from, int to)
    {
        for (var step = from; step <= to; step++)
        {
            var (x, y) = TorchTestData.Batch(seed: 500 + step, batch: 16, features: 30, classes: 5);
            using (x)
            using (y)
            {
                optimizer.zero_grad();
                TorchTestData.ForwardBackward(model, x, y);
                optimizer.step();
                Assert.True(optimizer.LastResult.Applied, optimizer.LastResult.Message);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SaveBesideTheModel_LoadIntoFreshObjects_ResumesBitExactly(string kind)
    {
        const int SaveAfter = 6;
        const int More = 9;
        var modelPath = Path.Combine(folder, "model.bin");
        var optimizerPath = Path.Combine(folder, "optimizer.ckpt");
        using var model = TorchTestData.Mlp(seed: 9, 30, 24, 5);
        using var optimizer = Create(kind, model);
        Train(model, optimizer, 1, SaveAfter);
        // As a scheduler would: the halved rate is state and must come back with the checkpoint.
        optimizer.ParamGroups.Single().LearningRate *= 0.5;
        model.save(modelPath);
        optimizer.save(optimizerPath);
        Train(model, optimizer, SaveAfter + 1, SaveAfter + More);
        var expected = TorchTestData.Snapshot(model.parameters());

        using var fresh = TorchTestData.Mlp(seed: 1234, 30, 24, 5);
        fresh.load(modelPath);
        using var resumed = Create(kind, fresh);
        resumed.load(optimizerPath);
        Assert.Equal(SaveAfter, resumed.Core.StepCount);
        Assert.Equal(optimizer.Core.GetLearningRate(0), resumed.ParamGroups.Single().LearningRate);
        Train(fresh, resumed, SaveAfter + 1, SaveAfter + More);

        TorchTestData.AssertSameBits(expected, [.. fresh.parameters()], $"{kind} resumed after step {SaveAfter}");
        Assert.Equal(optimizer.Core.Statistics.RootRefreshes, resumed.Core.Statistics.RootRefreshes);
    }

    [Fact]
    public void LoadingAnotherModelsCheckpoint_IsRefused_AndChangesNothing()
    {
        var path = Path.Combine(folder, "other.ckpt");
        using (var other = TorchTestData.Mlp(seed: 9, 30, 20, 5))
        using (var saved = Create("Shampoo²", other))
        {
            saved.save(path);
        }

        using var model = TorchTestData.Mlp(seed: 9, 30, 24, 5);
        using var optimizer = Create("Shampoo²", model);
        var before = TorchTestData.Snapshot(model.parameters());
        var error = Assert.Throws<InvalidDataException>(() => optimizer.load(path));
        Assert.Contains("another model or incompatible options", error.Message);
        TorchTestData.AssertSameBits(before, [.. model.parameters()], "after refusing the checkpoint");
    }

    [Fact]
    public void TorchSharpsStateDict_IsNotOffered_AndSaysWhatToUse()
    {
        using var model = TorchTestData.Mlp(seed: 9, 30, 24, 5);
        using var optimizer = Create("Shampoo²", model);
        var error = Assert.Throws<NotSupportedException>(() => optimizer.save_state_dict(Path.Combine(folder, "sd.bin")));
        Assert.Contains("use save(path) and load(path)", error.Message);
        Assert.Throws<NotSupportedException>(() => optimizer.state_dict());
        Assert.Throws<NotSupportedException>(() => optimizer.add_param_group(new ParamGroup()));
    }
}
