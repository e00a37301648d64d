using System.Numerics.Tensors;
using ShampooMkl.Analysis.Models;

namespace ShampooMkl.Tests.Models;

/// <summary>Training-loop properties: plain gradient descent lowers the loss, and a step allocates nothing.</summary>
public sealed class TrainingStepTests
{
    [Fact]
    public void GradientDescent_FitsSeparableData()
    {
        // Four Gaussian clusters in 16 dimensions, centres ~3 apart against noise 0.5: linearly separable.
        const int features = 16, classes = 4, count = 512, batch = 32;
        var random = new Random(51);
        var centres = ModelTestData.Inputs(classes, features, seed: 52).Select(v => 3f * v).ToArray();
        var inputs = new float[count * features];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = (byte)(i % classes);
            for (var f = 0; f < features; f++)
            {
                inputs[(i * features) + f] = centres[(labels[i] * features) + f] + (float)(0.5 * Gaussian(random));
            }
        }

        var model = new LinearClassifier(features, classes, maxBatchSize: batch, seed: 53);
        var (initialLoss, _) = model.Evaluate(inputs, labels, count);
        for (var epoch = 0; epoch < 20; epoch++)
        {
            for (var start = 0; start < count; start += batch)
            {
                model.ForwardBackward(inputs.AsSpan(start * features, batch * features), labels.AsSpan(start, batch), batch);
                foreach (var p in model.Parameters)
                {
                    TensorPrimitives.MultiplyAdd(p.Gradient, -0.2f, p.Value, p.Value);
                }
            }
        }

        var (finalLoss, accuracy) = model.Evaluate(inputs, labels, count);
        Assert.True(finalLoss < 0.2 * initialLoss, $"loss {initialLoss:F4} → {finalLoss:F4}");
        Assert.True(accuracy > 0.97, $"accuracy {accuracy:P1}");
    }

    [Theory]
    [MemberData(nameof(ModelTestData.AllKinds), MemberType = typeof(ModelTestData))]
    public void TrainingStep_AllocatesNothingAfterWarmUp(string kind)
    {
        const int batch = 16;
        var model = ModelTestData.Create(kind, maxBatchSize: batch);
        var inputs = ModelTestData.Inputs(batch, model.InputFeatures, seed: 61);
        var labels = ModelTestData.Labels(batch, model.Classes, seed: 62);
        var sampled = new byte[batch];
        var random = new Random(63);
        var last = model.DenseLayers[^1];
        var perExample = new float[batch * last.Outputs * last.Inputs];

        void Step()
        {
            model.ForwardBackward(inputs, labels, batch);

            // Indexing, not foreach: enumerating an IReadOnlyList through the interface boxes an enumerator.
            for (var p = 0; p < model.Parameters.Count; p++)
            {
                var parameter = model.Parameters[p];
                TensorPrimitives.MultiplyAdd(parameter.Gradient, -1e-3f, parameter.Value, parameter.Value);
            }

            SoftmaxCrossEntropy.SampleLabels(model.Probabilities, batch, model.Classes, random, sampled);
            model.Backward(sampled);
            model.PerExampleGradients(last.Index, perExample);
        }

        // Warm-up: lazily allocated input-gradient buffers, JIT tiers, BLAS initialisation.
        for (var i = 0; i < 3; i++)
        {
            Step();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++)
        {
            Step();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
