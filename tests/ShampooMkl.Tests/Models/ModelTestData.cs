using ShampooMkl.Analysis.Models;

namespace ShampooMkl.Tests.Models;

/// <summary>Seeded inputs, labels and small model shapes shared by the model tests.</summary>
internal static class ModelTestData
{
    /// <summary>Pixel-like values in [0, 1), as MNIST has.</summary>
    public static float[] Inputs(int count, int features, int seed)
    {
        var random = new Random(seed);
        var values = new float[count * features];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)random.NextDouble();
        }

        return values;
    }

    public static byte[] Labels(int count, int classes, int seed)
    {
        var random = new Random(seed);
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = (byte)random.Next(classes);
        }

        return labels;
    }

    /// <summary>Model kinds by name, so theories show a readable case name.</summary>
    public static SequentialModel Create(string kind, int maxBatchSize = 8, int seed = 3) => kind switch
    {
        "linear-tiny" => new LinearClassifier(inputFeatures: 12, classes: 5, maxBatchSize: maxBatchSize, seed: seed),
        "mlp-tiny" => new Mlp([9, 7], inputFeatures: 12, classes: 5, maxBatchSize: maxBatchSize, seed: seed),
        "cnn-tiny" => new SmallCnn(imageHeight: 14, imageWidth: 14, classes: 4, conv1Channels: 3, conv2Channels: 4, kernelSize: 3, maxBatchSize: maxBatchSize, seed: seed),
        "linear" => new LinearClassifier(maxBatchSize: maxBatchSize, seed: seed),
        "mlp" => new Mlp(maxBatchSize: maxBatchSize, seed: seed),
        "cnn" => new SmallCnn(maxBatchSize: maxBatchSize, seed: seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown model kind."),
    };

    public static TheoryData<string> AllKinds() => new() { "linear-tiny", "mlp-tiny", "cnn-tiny", "linear", "mlp", "cnn" };

    /// <summary>Every kind whose finite differences converge in fp32 (see <see cref="GradientCheckTests"/>).</summary>
    public static TheoryData<string> GradientCheckKinds() => new() { "linear-tiny", "mlp-tiny", "cnn-tiny", "linear", "mlp" };

    public static TheoryData<string> KindsWithHiddenLayers() => new() { "mlp-tiny", "cnn-tiny", "mlp", "cnn" };

    public static float[][] CopyGradients(IModel model) => [.. model.Parameters.Select(p => (float[])p.Gradient.Clone())];

    /// <summary>Equal up to a few fp32 roundings of the largest entry.</summary>
    /// <remarks>Repeating the same computation is not bitwise reproducible: MKL picks its thread count per call (and
    /// with it the summation order) unless its reproducibility mode is on, which it is not in tests that run in
    /// parallel. 1e-5 of the largest magnitude is ~100 ulps, far below any real difference.</remarks>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var tolerance = 1e-5f * Math.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(expected));
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}]: {expected[i]} vs {actual[i]}");
        }
    }
}
