using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ShampooMkl.Optim;
using TorchSharp;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>The adapter reads gradients and writes values in the tensors' own storage, and a steady step allocates no
/// managed memory.</summary>
public class ZeroCopyTests
{
    private static readonly ShampooOptions Options = ShampooOptions.ShampooSquared with
    {
        LearningRate = 1e-2, StartPreconditioningStep = 1, PreconditionFrequency = 2, Epsilon = 1e-4,
    };

    [Fact]
    public void Step_WritesTheTensorsOwnStorage_AndReadsTheirGradientsInPlace()
    {
        using var model = TorchTestData.Mlp(seed: 4, 20, 16, 4);
        var named = model.named_parameters().ToList();
        using var optimizer = new TorchShampoo(named, Options);
        var (x, y) = TorchTestData.Batch(seed: 1, batch: 8, features: 20, classes: 4);
        var before = TorchTestData.Snapshot(named.Select(p => p.parameter));
        TorchTestData.ForwardBackward(model, x, y);
        optimizer.step();

        for (var k = 0; k < named.Count; k++)
        {
            var tensor = named[k].parameter;
            var core = optimizer.Core.Parameters[k];
            Assert.Equal(named[k].name, core.Name);
            Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(TorchTestData.Storage(tensor)), ref MemoryMarshal.GetReference(core.GetValues<float>())),
                $"{core.Name}: the core's values are not the tensor's storage.");
            using var grad = tensor.grad!;
            Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(TorchTestData.Storage(grad)), ref MemoryMarshal.GetReference(core.GetGradient<float>())),
                $"{core.Name}: the core's gradient is not the tensor's .grad storage.");
            Assert.False(TorchTestData.Storage(tensor).SequenceEqual(before[k]), $"{core.Name}: the tensor's storage did not change.");
        }
    }

    [Fact]
    public void ZeroGrad_KeepsTheGradientStorage()
    {
        using var model = TorchTestData.Mlp(seed: 4, 20, 16, 4);
        var named = model.named_parameters().ToList();
        using var optimizer = new TorchAdamW(named);
        var (x, y) = TorchTestData.Batch(seed: 1, batch: 8, features: 20, classes: 4);
        TorchTestData.ForwardBackward(model, x, y);
        using var grad = named[0].parameter.grad!;
        var address = TorchTestData.Address(grad);
        optimizer.zero_grad();
        using var after = named[0].parameter.grad!;
        Assert.Equal(address, TorchTestData.Address(after));
        Assert.All(TorchTestData.Storage(after).ToArray(), g => Assert.Equal(0f, g));
    }

    public static TheoryData<string> Kinds => ["Shampoo²", "AdamW"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SteadySteps_AllocateNoManagedMemory(string kind)
    {
        using var model = TorchTestData.Mlp(seed: 5, 20, 16, 4);
        var named = model.named_parameters().ToList();
        using TorchOptimizer optimizer = kind == "AdamW" ? new TorchAdamW(named) : new TorchShampoo(named, Options);
        var (x, y) = TorchTestData.Batch(seed: 2, batch: 8, features: 20, classes: 4);
        long allocated = 0;
        for (var step = 1; step <= 10; step++)
        {
            optimizer.zero_grad();
            TorchTestData.ForwardBackward(model, x, y);
            // Warm-up (JIT, first refresh, pooled workspaces) for 3 steps; then refresh and plain steps alike.
            var before = GC.GetAllocatedBytesForCurrentThread();
            optimizer.step();
            if (step > 3)
            {
                allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            }

            Assert.True(optimizer.LastResult.Applied, optimizer.LastResult.Message);
        }

        Assert.Equal(0, allocated);
        if (kind != "AdamW")
        {
            Assert.True(optimizer.Core.Statistics.RootRefreshes >= 3, "no refresh step was measured");
        }
    }
}
