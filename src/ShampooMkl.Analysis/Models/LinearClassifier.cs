namespace ShampooMkl.Analysis.Models;

/// <summary>Multinomial logistic regression: one dense layer from the pixels to the logits (784→10 by default).</summary>
public sealed class LinearClassifier : SequentialModel
{
    /// <summary>Builds the model with He-uniform weights drawn from <c>new Random(seed)</c> and zero bias.</summary>
    public LinearClassifier(int inputFeatures = 784, int classes = 10, int maxBatchSize = 128, int seed = 0)
        : base(inputFeatures, classes, maxBatchSize, [new DenseLayer("fc", inputFeatures, classes, maxBatchSize, new Random(seed))])
    {
    }
}
