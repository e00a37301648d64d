using ShampooMkl.TorchSharp.Training;
using TorchSharp;

namespace ShampooMkl.TorchSharp.Tests.Training;

/// <summary>The TorchSharp MNIST models: architecture (parameter names and shapes), output shape, and initialisation that
/// depends only on the seed.</summary>
public sealed class TorchModelTests
{
    private static string Shapes(torch.nn.Module model) =>
        string.Join(", ", model.named_parameters().Select(p => $"{p.name}[{string.Join("x", p.parameter.shape)}]"));

    [Fact]
    public void Mlp_Is784_256_128_10()
    {
        using var model = TorchModelFactory.Create(TorchModelKind.Mlp, seed: 0);
        Assert.Equal("fc1.weight[256x784], fc1.bias[256], fc2.weight[128x256], fc2.bias[128], fc3.weight[10x128], fc3.bias[10]", Shapes(model));
    }

    [Fact]
    public void Cnn_MirrorsTheCoreSmallCnn()
    {
        using var model = TorchModelFactory.Create(TorchModelKind.Cnn, seed: 0);
        Assert.Equal("conv1.weight[8x1x5x5], conv1.bias[8], conv2.weight[16x8x5x5], conv2.bias[16], fc.weight[10x256], fc.bias[10]", Shapes(model));
    }

    [Fact]
    public void VisionTransformer_Has16TokensOfWidth64_TwoBlocks()
    {
        using var model = TorchModelFactory.Create(TorchModelKind.Vit, seed: 0);
        var names = model.named_parameters().ToDictionary(p => p.name, p => string.Join("x", p.parameter.shape));
        Assert.Equal("16x64", names["position"]);
        Assert.Equal("64x49", names["embed.weight"]);
        Assert.Equal("192x64", names["blocks.0.qkv.weight"]);
        Assert.Equal("64x64", names["blocks.1.projection.weight"]);
        Assert.Equal("128x64", names["blocks.1.hidden.weight"]);
        Assert.Equal("10x64", names["head.weight"]);
        Assert.DoesNotContain(names.Keys, n => n.StartsWith("blocks.2.", StringComparison.Ordinal));
    }

    [Fact]
    public void VisionTransformer_RefusesAWidthTheHeadsDoNotDivide()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TorchVisionTransformer(width: 30, heads: 4));
        Assert.Equal("width", e.ParamName);
    }

    [Theory]
    [InlineData(TorchModelKind.Mlp)]
    [InlineData(TorchModelKind.Cnn)]
    [InlineData(TorchModelKind.Vit)]
    public void Forward_MapsFlatImagesToTenLogits(TorchModelKind kind)
    {
        using var model = TorchModelFactory.Create(kind, seed: 0);
        using var x = torch.rand(3, 784);
        using var logits = model.call(x);
        Assert.Equal([3L, 10L], logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }

    [Theory]
    [InlineData(TorchModelKind.Mlp)]
    [InlineData(TorchModelKind.Cnn)]
    [InlineData(TorchModelKind.Vit)]
    public void Initialisation_DependsOnlyOnTheSeed(TorchModelKind kind)
    {
        using var a = TorchModelFactory.Create(kind, seed: 7);
        using var other = TorchModelFactory.Create(kind, seed: 8);
        using var b = TorchModelFactory.Create(kind, seed: 7);
        var pa = a.parameters().Select(p => p.data<float>().ToArray()).ToList();
        var pb = b.parameters().Select(p => p.data<float>().ToArray()).ToList();
        var po = other.parameters().Select(p => p.data<float>().ToArray()).ToList();
        Assert.Equal(pa.Count, pb.Count);
        Assert.All(pa.Zip(pb), pair => Assert.Equal(pair.First, pair.Second));
        Assert.False(pa.Zip(po).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second)));
    }
}
