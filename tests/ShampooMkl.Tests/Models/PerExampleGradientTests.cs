using ShampooMkl.Analysis.Models;

namespace ShampooMkl.Tests.Models;

/// <summary>Per-example dense-layer gradients: their mean is the batch gradient, each is its example's own gradient,
/// and sampled-label backward passes agree with ordinary ones.</summary>
public sealed class PerExampleGradientTests
{
    private const int Batch = 6;
    private const double Fp32Epsilon = 1.1920928955078125e-7;

    [Theory]
    [MemberData(nameof(ModelTestData.AllKinds), MemberType = typeof(ModelTestData))]
    public void PerExampleGradients_AverageToTheBatchGradient(string kind)
    {
        var model = ModelTestData.Create(kind);
        var inputs = ModelTestData.Inputs(Batch, model.InputFeatures, seed: 21);
        var labels = ModelTestData.Labels(Batch, model.Classes, seed: 22);
        model.ForwardBackward(inputs, labels, Batch);

        foreach (var layer in model.DenseLayers)
        {
            var size = layer.Outputs * layer.Inputs;
            var perExample = new float[Batch * size];
            model.PerExampleGradients(layer.Index, perExample);
            AssertMeanEquals(perExample, size, layer.Weight.Gradient, $"{kind} {layer.Weight.Name}");

            var perExampleBias = new float[Batch * layer.Outputs];
            model.PerExampleBiasGradients(layer.Index, perExampleBias);
            AssertMeanEquals(perExampleBias, layer.Outputs, layer.Bias.Gradient, $"{kind} {layer.Bias.Name}");
        }
    }

    [Theory]
    [InlineData("cnn-tiny")]
    [InlineData("cnn")]
    public void ConvolutionPerExampleGradients_AverageToTheBatchGradient_AndMatchSingleExamples(string kind)
    {
        var model = (SmallCnn)ModelTestData.Create(kind);
        var inputs = ModelTestData.Inputs(Batch, model.InputFeatures, seed: 28);
        var labels = ModelTestData.Labels(Batch, model.Classes, seed: 29);
        model.ForwardBackward(inputs, labels, Batch);
        var layers = new[] { model.Conv1, model.Conv2 };
        var perExample = layers.Select(conv =>
        {
            var g = new float[Batch * conv.OutChannels * conv.PatchSize];
            conv.PerExampleGradients(g);
            AssertMeanEquals(g, conv.OutChannels * conv.PatchSize, conv.Weight.Gradient, $"{kind} {conv.Weight.Name}");
            return g;
        }).ToArray();

        for (var i = 0; i < Batch; i++)
        {
            model.ForwardBackward(inputs.AsSpan(i * model.InputFeatures, model.InputFeatures), labels.AsSpan(i, 1), 1);
            for (var l = 0; l < layers.Length; l++)
            {
                var size = layers[l].OutChannels * layers[l].PatchSize;
                ModelTestData.AssertClose(layers[l].Weight.Gradient, perExample[l].AsSpan(i * size, size), $"{kind} {layers[l].Name} example {i}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(ModelTestData.AllKinds), MemberType = typeof(ModelTestData))]
    public void PerExampleGradient_IsTheGradientOfThatExampleAlone(string kind)
    {
        var model = ModelTestData.Create(kind);
        var inputs = ModelTestData.Inputs(Batch, model.InputFeatures, seed: 23);
        var labels = ModelTestData.Labels(Batch, model.Classes, seed: 24);
        model.ForwardBackward(inputs, labels, Batch);
        var perExample = model.DenseLayers.Select(layer =>
        {
            var g = new float[Batch * layer.Outputs * layer.Inputs];
            model.PerExampleGradients(layer.Index, g);
            return g;
        }).ToArray();

        for (var i = 0; i < Batch; i++)
        {
            model.ForwardBackward(inputs.AsSpan(i * model.InputFeatures, model.InputFeatures), labels.AsSpan(i, 1), 1);
            foreach (var layer in model.DenseLayers)
            {
                var size = layer.Outputs * layer.Inputs;
                var expected = layer.Weight.Gradient;
                var actual = perExample[layer.Index].AsSpan(i * size, size);

                // Same arithmetic up to gemm's summation order over batch rows in the forward pass, so a few
                // ulps of the largest entry; 1e-5 relative is two orders above that.
                var scale = expected.Max(Math.Abs);
                for (var j = 0; j < size; j++)
                {
                    Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5f * scale, $"{kind} {layer.Name} example {i} entry {j}: {expected[j]} vs {actual[j]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(ModelTestData.KindsWithHiddenLayers), MemberType = typeof(ModelTestData))]
    public void BackwardWithSampledLabels_EqualsForwardBackwardOnThoseLabels(string kind)
    {
        var model = ModelTestData.Create(kind);
        var inputs = ModelTestData.Inputs(Batch, model.InputFeatures, seed: 25);
        var labels = ModelTestData.Labels(Batch, model.Classes, seed: 26);
        model.ForwardBackward(inputs, labels, Batch);
        var trueLabelGradients = ModelTestData.CopyGradients(model);

        var sampled = new byte[Batch];
        SoftmaxCrossEntropy.SampleLabels(model.Probabilities, Batch, model.Classes, new Random(27), sampled);
        model.Backward(sampled);
        var sampledGradients = ModelTestData.CopyGradients(model);
        var lastLayer = model.DenseLayers[^1];
        var perExample = new float[Batch * lastLayer.Outputs * lastLayer.Inputs];
        model.PerExampleGradients(lastLayer.Index, perExample);

        // A fresh forward pass on the sampled labels is the same arithmetic.
        model.ForwardBackward(inputs, sampled, Batch);
        var reference = ModelTestData.CopyGradients(model);
        var referencePerExample = new float[perExample.Length];
        model.PerExampleGradients(lastLayer.Index, referencePerExample);
        for (var p = 0; p < reference.Length; p++)
        {
            ModelTestData.AssertClose(reference[p], sampledGradients[p], $"{kind} {model.Parameters[p].Name}");
        }

        ModelTestData.AssertClose(referencePerExample, perExample, $"{kind} per-example {lastLayer.Name}");

        // Backward leaves the forward state intact, so going back to the true labels reproduces their gradients.
        model.Forward(inputs, labels, Batch);
        model.Backward(sampled);
        model.Backward();
        for (var p = 0; p < reference.Length; p++)
        {
            ModelTestData.AssertClose(trueLabelGradients[p], model.Parameters[p].Gradient, $"{kind} {model.Parameters[p].Name}");
        }
    }

    [Fact]
    public void PerExampleGradients_ThrowWithoutBackwardOrRoom()
    {
        var model = ModelTestData.Create("mlp-tiny");
        var inputs = ModelTestData.Inputs(2, model.InputFeatures, seed: 1);
        var labels = ModelTestData.Labels(2, model.Classes, seed: 2);
        var layer = model.DenseLayers[0];
        var destination = new float[2 * layer.Outputs * layer.Inputs];

        Assert.Throws<InvalidOperationException>(() => model.PerExampleGradients(0, destination));
        model.Forward(inputs, labels, 2);
        Assert.Throws<InvalidOperationException>(() => model.PerExampleGradients(0, destination));
        model.Backward();
        Assert.Throws<ArgumentException>(() => model.PerExampleGradients(0, destination.AsSpan(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.PerExampleGradients(model.DenseLayers.Count, destination));
        model.PerExampleGradients(0, destination);
    }

    [Fact]
    public void DenseLayers_AreEnumeratedInOrderWithShapes()
    {
        var mlp = new Mlp(maxBatchSize: 2);
        Assert.Equal(
            [(0, "fc1", 256, 784), (1, "fc2", 128, 256), (2, "fc3", 10, 128)],
            mlp.DenseLayers.Select(l => (l.Index, l.Name, l.Outputs, l.Inputs)));
        var cnn = new SmallCnn(maxBatchSize: 2);
        Assert.Equal([(0, "fc", 10, 256)], cnn.DenseLayers.Select(l => (l.Index, l.Name, l.Outputs, l.Inputs)));
    }

    /// <summary>(1/B) Σ_i rows vs the batch gradient. Both sum B fp32 terms (gemm for the batch gradient, this
    /// loop in double for the mean), so they differ by at most ~B·ε₃₂·Σ|terms|; four times that is allowed.</summary>
    private static void AssertMeanEquals(float[] perExample, int size, float[] batchGradient, string what)
    {
        for (var j = 0; j < size; j++)
        {
            double sum = 0, magnitude = 0;
            for (var i = 0; i < Batch; i++)
            {
                sum += perExample[(i * size) + j];
                magnitude += Math.Abs(perExample[(i * size) + j]);
            }

            var tolerance = (4.0 * Batch * Fp32Epsilon * magnitude / Batch) + 1e-12;
            Assert.True(Math.Abs((sum / Batch) - batchGradient[j]) <= tolerance, $"{what}[{j}]: mean {sum / Batch} vs batch {batchGradient[j]}");
        }
    }
}
