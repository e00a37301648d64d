using ShampooMkl.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>The torch.optim-shaped surface: the README's program, <c>step(closure)</c>, disposal.</summary>
public sealed class TorchOptimizerTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "shampoo-torch-opt-" + Guid.NewGuid().ToString("N"));

    public TorchOptimizerTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void TheReadmeProgram_Runs()
    {
        var (x, y) = TorchTestData.Batch(seed: 12, batch: 16, features: 784, classes: 10);
        torch.manual_seed(12);
        var model = torch.nn.Sequential(("fc1", torch.nn.Linear(784, 256)), ("relu", torch.nn.ReLU()), ("fc2", torch.nn.Linear(256, 10)));
        using var optimizer = new TorchShampoo(model.named_parameters(),
            ShampooOptions.RecommendedShampooSquared);
        var scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size: 1000, gamma: 0.5);
        optimizer.zero_grad();
        torch.nn.functional.cross_entropy(model.call(x), y).backward();
        optimizer.step();
        scheduler.step();
        model.save(Path.Combine(folder, "model.bin"));
        optimizer.save(Path.Combine(folder, "optimizer.ckpt"));
        Assert.True(optimizer.LastResult.Applied);
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], optimizer.Core.Parameters.Select(p => p.Name));
        Assert.Equal(1, Checkpoint.Read(Path.Combine(folder, "optimizer.ckpt")).Tensors.Single(t => t.Name == "step").Data[0]);
    }

    [Fact]
    public void Step_WithAClosure_EvaluatesIt_AndReturnsItsLoss()
    {
        using var model = TorchTestData.Mlp(seed: 13, 8, 6, 3);
        using var optimizer = new TorchAdamW(model.named_parameters());
        var (x, y) = TorchTestData.Batch(seed: 5, batch: 8, features: 8, classes: 3);
        var calls = 0;
        using var loss = optimizer.step(() =>
        {
            calls++;
            optimizer.zero_grad();
            var l = nn.functional.cross_entropy(model.call(x), y);
            l.backward();
            return l;
        });
        Assert.Equal(1, calls);
        Assert.NotNull(loss);
        Assert.True(float.IsFinite(loss.item<float>()));
        Assert.True(optimizer.LastResult.Applied);
    }

    [Fact]
    public void Dispose_FreesTheOptimizer_AndLeavesTheModelUsable()
    {
        using var model = TorchTestData.Mlp(seed: 14, 8, 6, 3);
        var optimizer = new TorchShampoo(model.named_parameters());
        var (x, y) = TorchTestData.Batch(seed: 5, batch: 8, features: 8, classes: 3);
        TorchTestData.ForwardBackward(model, x, y);
        optimizer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => optimizer.step());
        Assert.Throws<ObjectDisposedException>(() => optimizer.zero_grad());
        Assert.True(float.IsFinite(TorchTestData.ForwardBackward(model, x, y)));
    }
}
