using ShampooMkl.Analysis.Models;

namespace ShampooMkl.Tests.Models;

/// <summary>Model contracts: seeded initialisation, parameter shapes, prediction, evaluation and argument checks.</summary>
public sealed class ModelBehaviourTests
{
    [Theory]
    [MemberData(nameof(ModelTestData.AllKinds), MemberType = typeof(ModelTestData))]
    public void SameSeed_GivesSameParameters_OtherSeedDiffers(string kind)
    {
        var a = ModelTestData.Create(kind, seed: 7);
        var b = ModelTestData.Create(kind, seed: 7);
        var c = ModelTestData.Create(kind, seed: 8);
        for (var p = 0; p < a.Parameters.Count; p++)
        {
            Assert.Equal(a.Parameters[p].Value, b.Parameters[p].Value);
        }

        Assert.NotEqual(a.Parameters[0].Value, c.Parameters[0].Value);
    }

    [Fact]
    public void Initialisation_IsHeUniform()
    {
        // U(−b, b) with b = √(6/fan_in) has variance b²/3 = 2/fan_in.
        var mlp = new Mlp(maxBatchSize: 1, seed: 1);
        var weights = mlp.DenseLayers[0].Weight.Value;
        var bound = Math.Sqrt(6.0 / 784);
        Assert.All(weights, w => Assert.InRange(w, -bound, bound));
        var variance = weights.Average(w => (double)w * w);
        Assert.InRange(variance, 0.97 * 2 / 784, 1.03 * 2 / 784);
        Assert.All(mlp.DenseLayers[0].Bias.Value, b => Assert.Equal(0f, b));
    }

    [Fact]
    public void Parameters_HaveTheShapesTheOptimizerMerges()
    {
        var cnn = new SmallCnn(maxBatchSize: 1);
        Assert.Equal(
            ["conv1.weight [8×1×5×5]", "conv1.bias [8]", "conv2.weight [16×8×5×5]", "conv2.bias [16]", "fc.weight [10×256]", "fc.bias [10]"],
            cnn.Parameters.Select(p => p.ToString()));
        Assert.Equal((16, 200), (cnn.Parameters[2].MatrixRows, cnn.Parameters[2].MatrixCols));

        var mlp = new Mlp([32], inputFeatures: 784, classes: 10, maxBatchSize: 1);
        Assert.Equal(["fc1.weight [32×784]", "fc1.bias [32]", "fc2.weight [10×32]", "fc2.bias [10]"], mlp.Parameters.Select(p => p.ToString()));
        Assert.Equal(["fc.weight [10×784]", "fc.bias [10]"], new LinearClassifier(maxBatchSize: 1).Parameters.Select(p => p.ToString()));
    }

    [Theory]
    [MemberData(nameof(ModelTestData.AllKinds), MemberType = typeof(ModelTestData))]
    public void PredictAndEvaluate_AgreeWithForwardAcrossBatches(string kind)
    {
        const int count = 19;
        var model = ModelTestData.Create(kind, maxBatchSize: 8);
        var inputs = ModelTestData.Inputs(count, model.InputFeatures, seed: 31);
        var labels = ModelTestData.Labels(count, model.Classes, seed: 32);

        var predictions = new int[count];
        model.Predict(inputs, count, predictions);
        var lossSum = 0.0;
        var correct = 0;
        for (var i = 0; i < count; i++)
        {
            lossSum += model.Forward(inputs.AsSpan(i * model.InputFeatures, model.InputFeatures), labels.AsSpan(i, 1), 1);
            var p = model.Probabilities;
            var best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(p);
            Assert.Equal(best, predictions[i]);
            Assert.Equal(best, model.Predict(inputs.AsSpan(i * model.InputFeatures, model.InputFeatures)));
            correct += best == labels[i] ? 1 : 0;
        }

        var (loss, accuracy) = model.Evaluate(inputs, labels, count);
        Assert.Equal(lossSum / count, loss, 5);
        Assert.Equal((double)correct / count, accuracy);
        Assert.Throws<InvalidOperationException>(() => model.Backward());
    }

    [Fact]
    public void Forward_ChecksItsArguments()
    {
        var model = ModelTestData.Create("mlp-tiny", maxBatchSize: 4);
        var inputs = ModelTestData.Inputs(5, model.InputFeatures, seed: 1);
        var labels = ModelTestData.Labels(5, model.Classes, seed: 2);

        Assert.Throws<InvalidOperationException>(() => model.Backward());
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(inputs, labels, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(inputs, labels, 0));
        Assert.Throws<ArgumentException>(() => model.Forward(inputs.AsSpan(0, 10), labels, 2));
        Assert.Throws<ArgumentException>(() => model.Forward(inputs, labels.AsSpan(0, 1), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(inputs, [0, (byte)model.Classes], 2));
        model.Forward(inputs, labels, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Backward([0, (byte)model.Classes]));
        Assert.Throws<ArgumentException>(() => model.Backward([0]));
    }

    [Fact]
    public void Backward_OverwritesGradients()
    {
        var model = ModelTestData.Create("mlp-tiny");
        var inputs = ModelTestData.Inputs(4, model.InputFeatures, seed: 41);
        var labels = ModelTestData.Labels(4, model.Classes, seed: 42);
        model.ForwardBackward(inputs, labels, 4);
        var once = ModelTestData.CopyGradients(model);
        model.ForwardBackward(inputs, labels, 4);
        for (var p = 0; p < once.Length; p++)
        {
            ModelTestData.AssertClose(once[p], model.Parameters[p].Gradient, model.Parameters[p].Name);
        }
    }
}
