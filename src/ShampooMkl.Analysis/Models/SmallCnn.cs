namespace ShampooMkl.Analysis.Models;

/// <summary>conv(k×k) → ReLU → 2×2 max-pool → conv(k×k) → ReLU → 2×2 max-pool → dense, for single-channel images.</summary>
/// <remarks>With the defaults on 28×28 MNIST: 1→8 channels (24×24), pool 12×12, 8→16 channels (8×8), pool 4×4,
/// dense 256→10. Convolutions are unpadded. Activations are channels-last (see <see cref="Conv2dLayer"/>), so the
/// dense layer reads the pooled features in (y, x, channel) order.</remarks>
public sealed class SmallCnn : SequentialModel
{
    /// <summary>Builds the model; layers are initialised in order (conv1, conv2, fc) from <c>new Random(seed)</c>.</summary>
    public SmallCnn(
        int imageHeight = 28, int imageWidth = 28, int classes = 10, int conv1Channels = 8, int conv2Channels = 16,
        int kernelSize = 5, int maxBatchSize = 128, int seed = 0)
        : base(imageHeight * imageWidth, classes, maxBatchSize,
            BuildLayers(imageHeight, imageWidth, classes, conv1Channels, conv2Channels, kernelSize, maxBatchSize, new Random(seed)))
    {
    }

    /// <summary>The first convolution.</summary>
    public Conv2dLayer Conv1 => (Conv2dLayer)Layers[0];

    /// <summary>The second convolution.</summary>
    public Conv2dLayer Conv2 => (Conv2dLayer)Layers[3];

    private static Layer[] BuildLayers(
        int height, int width, int classes, int channels1, int channels2, int kernel, int maxBatchSize, Random random)
    {
        var conv1 = new Conv2dLayer("conv1", height, width, 1, channels1, kernel, 0, maxBatchSize, random);
        var relu1 = new ReluLayer("relu1", conv1.OutputSize, maxBatchSize);
        var pool1 = new MaxPool2dLayer("pool1", conv1.OutputHeight, conv1.OutputWidth, channels1, maxBatchSize);
        var conv2 = new Conv2dLayer("conv2", pool1.OutputHeight, pool1.OutputWidth, channels1, channels2, kernel, 0, maxBatchSize, random);
        var relu2 = new ReluLayer("relu2", conv2.OutputSize, maxBatchSize);
        var pool2 = new MaxPool2dLayer("pool2", conv2.OutputHeight, conv2.OutputWidth, channels2, maxBatchSize);
        var fc = new DenseLayer("fc", pool2.OutputSize, classes, maxBatchSize, random);
        return [conv1, relu1, pool1, conv2, relu2, pool2, fc];
    }
}
