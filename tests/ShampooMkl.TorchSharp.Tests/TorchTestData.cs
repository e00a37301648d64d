using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>Small TorchSharp models and seeded batches shared by the adapter tests.</summary>
internal static class TorchTestData
{
    /// <summary>An MLP of Linear layers with ReLU between them, initialised from <paramref name="seed"/>.</summary>
    public static Sequential Mlp(int seed, params int[] sizes)
    {
        torch.manual_seed(seed);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (var i = 0; i + 1 < sizes.Length; i++)
        {
            if (i > 0)
            {
                layers.Add(($"relu{i}", nn.ReLU()));
            }

            layers.Add(($"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1])));
        }

        return nn.Sequential(layers);
    }

    /// <summary>Seeded inputs (standard normal) and class labels.</summary>
    public static (Tensor X, Tensor Y) Batch(int seed, int batch, int features, int classes)
    {
        torch.manual_seed(seed);
        return (torch.randn(batch, features), torch.randint(classes, batch, dtype: ScalarType.Int64));
    }

    /// <summary>Cross-entropy of <paramref name="model"/> on the batch, back-propagated; returns the loss value.</summary>
    public static float ForwardBackward(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y)
    {
        using var scope = torch.NewDisposeScope();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        return loss.item<float>();
    }

    /// <summary>The tensor's own storage as fp32 values (no copy).</summary>
    public static Span<float> Storage(Tensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.bytes);

    /// <summary>The address of the tensor's first element.</summary>
    public static unsafe nint Address(Tensor tensor) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor.bytes));

    /// <summary>Copies of every parameter's values, in order.</summary>
    public static float[][] Snapshot(IEnumerable<TorchParameter> parameters) => [.. parameters.Select(p => Storage(p).ToArray())];

    /// <summary>Bitwise equality of each parameter's storage with <paramref name="expected"/>.</summary>
    public static void AssertSameBits(float[][] expected, IReadOnlyList<TorchParameter> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var k = 0; k < expected.Length; k++)
        {
            Assert.True(MemoryMarshal.AsBytes(expected[k].AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(Storage(actual[k]))),
                $"{what}: parameter {k} differs.");
        }
    }
}
