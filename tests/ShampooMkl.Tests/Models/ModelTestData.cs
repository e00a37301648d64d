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

    public static TheoryData<string> KindsWithHiddenLayers() => new() { "mlp-tiny", "cnn-tiny", "mlp", "cnn" };

    public static float[][] CopyGradients(IModel model) => [.. model.Parameters.Select(p => (float[])p.Gradient.Clone())];
}
