namespace ShampooMkl.Analysis.Models;

/// <summary>Multi-layer perceptron with ReLU hidden layers (784-256-128-10 by default).</summary>
public sealed class Mlp : SequentialModel
{
    /// <summary>The default hidden widths.</summary>
    public static IReadOnlyList<int> DefaultHiddenSizes { get; } = [256, 128];

    /// <summary>Builds the model; layers are named fc1, fc2, … and initialised in that order from <c>new Random(seed)</c>.</summary>
    /// <param name="hiddenSizes">Widths of the hidden layers; null means <see cref="DefaultHiddenSizes"/>, empty means a linear model.</param>
    /// <param name="inputFeatures">Values per example.</param>
    /// <param name="classes">Logits per example.</param>
    /// <param name="maxBatchSize">Largest batch the buffers hold.</param>
    /// <param name="seed">Seed of the initialisation.</param>
    public Mlp(IReadOnlyList<int>? hiddenSizes = null, int inputFeatures = 784, int classes = 10, int maxBatchSize = 128, int seed = 0)
        : this(hiddenSizes ?? DefaultHiddenSizes, inputFeatures, classes, maxBatchSize, new Random(seed))
    {
    }

    private Mlp(IReadOnlyList<int> hiddenSizes, int inputFeatures, int classes, int maxBatchSize, Random random)
        : base(inputFeatures, classes, maxBatchSize, BuildLayers(hiddenSizes, inputFeatures, classes, maxBatchSize, random))
    {
        HiddenSizes = [.. hiddenSizes];
    }

    /// <summary>Widths of the hidden layers.</summary>
    public IReadOnlyList<int> HiddenSizes { get; }

    private static Layer[] BuildLayers(IReadOnlyList<int> hiddenSizes, int inputFeatures, int classes, int maxBatchSize, Random random)
    {
        var layers = new List<Layer>();
        var width = inputFeatures;
        for (var h = 0; h < hiddenSizes.Count; h++)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSizes[h], nameof(hiddenSizes));
            layers.Add(new DenseLayer($"fc{h + 1}", width, hiddenSizes[h], maxBatchSize, random));
            layers.Add(new ReluLayer($"relu{h + 1}", hiddenSizes[h], maxBatchSize));
            width = hiddenSizes[h];
        }

        layers.Add(new DenseLayer($"fc{hiddenSizes.Count + 1}", width, classes, maxBatchSize, random));
        return [.. layers];
    }
}
