using ShampooMkl.Optim;
using TorchSharp;
using CoreParameter = ShampooMkl.Optim.Parameter;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>The adapter changes nothing but where the numbers live: stepping a TorchSharp MLP through
/// <see cref="TorchShampoo"/>/<see cref="TorchAdamW"/> gives the same bits as the core optimizer over managed arrays fed
/// the same gradients, over 30 steps including root refreshes.</summary>
public class SameGradientsTests
{
    private const int Steps = 32;

    public static TheoryData<string> Kinds => ["Shampoo²", "Shampoo", "AdamW"];

    private static ShampooOptions Options(string kind) => (kind == "Shampoo²" ? ShampooOptions.ShampooSquared with { Epsilon = 1e-4 } : ShampooOptions.Shampoo)
        with { LearningRate = 3e-3, PreconditionFrequency = 5, MaxPreconditionerDim = 512, Beta2 = 0.999, WeightDecay = 1e-4 };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Mlp_ThroughTheAdapter_MatchesTheCoreBitForBit(string kind)
    {
        using var model = TorchTestData.Mlp(seed: 3, 784, 256, 128, 10);
        var named = model.named_parameters().ToList();
        var core = named.Select(p => new CoreParameter(p.name, TorchTestData.Storage(p.parameter).ToArray(), [.. p.parameter.shape.Select(d => (int)d)])).ToArray();
        using TorchOptimizer adapter = kind == "AdamW"
            ? new TorchAdamW(named, AdamWOptions.Default with { LearningRate = 3e-3, WeightDecay = 1e-4 })
            : new TorchShampoo(named, Options(kind));
        using ICheckpointable reference = kind == "AdamW"
            ? new AdamW(core, AdamWOptions.Default with { LearningRate = 3e-3, WeightDecay = 1e-4 })
            : new Shampoo(core, Options(kind));

        var initial = TorchTestData.Snapshot(named.Select(p => p.parameter));
        for (var step = 1; step <= Steps; step++)
        {
            var (x, y) = TorchTestData.Batch(seed: 100 + step, batch: 32, features: 784, classes: 10);
            using (x)
            using (y)
            {
                adapter.zero_grad();
                TorchTestData.ForwardBackward(model, x, y);
            }

            for (var k = 0; k < core.Length; k++)
            {
                using var grad = named[k].parameter.grad!;
                TorchTestData.Storage(grad).CopyTo(core[k].Gradient);
            }

            adapter.step();
            Assert.True(adapter.LastResult.Applied, adapter.LastResult.Message);
            Assert.True(reference.Step().Applied);
            TorchTestData.AssertSameBits([.. core.Select(p => p.Value)], [.. named.Select(p => p.parameter)], $"{kind}, step {step}");
        }

        Assert.Equal(Steps, adapter.Core.StepCount);
        if (kind != "AdamW")
        {
            Assert.Equal(Steps / 5, adapter.Core.Statistics.RootRefreshes);
            Assert.Equal(0, adapter.Core.Statistics.FailedRootBlocks);
        }

        Assert.False(TorchTestData.Storage(named[0].parameter).SequenceEqual(initial[0]), "training moved nothing");
    }
}
