using System.Numerics;
using System.Numerics.Tensors;

namespace ShampooMkl.Analysis.Models;

/// <summary>Elementwise max(x, 0).</summary>
public sealed class ReluLayer : Layer
{
    internal ReluLayer(string name, int size, int maxBatchSize)
        : base(name, size, size, maxBatchSize)
    {
    }

    internal override void Forward(float[] input, int batchSize)
    {
        CheckBatch(input, batchSize, InputSize);
        var n = batchSize * InputSize;
        TensorPrimitives.Max(input.AsSpan(0, n), 0f, Output.AsSpan(0, n));
    }

    internal override void Backward(float[] outputGradient, int batchSize, bool computeInputGradient)
    {
        CheckBatch(outputGradient, batchSize, OutputSize);
        if (!computeInputGradient)
        {
            return;
        }

        // The mask comes from the stored output, which stays intact so Backward can be repeated with other labels.
        var n = batchSize * InputSize;
        ReadOnlySpan<float> y = Output.AsSpan(0, n);
        ReadOnlySpan<float> dy = outputGradient.AsSpan(0, n);
        var dx = EnsureInputGradient().AsSpan(0, n);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                var positive = Vector.GreaterThan(new Vector<float>(y[i..]), Vector<float>.Zero);
                Vector.ConditionalSelect(positive, new Vector<float>(dy[i..]), Vector<float>.Zero).CopyTo(dx[i..]);
            }
        }

        for (; i < n; i++)
        {
            dx[i] = y[i] > 0f ? dy[i] : 0f;
        }
    }
}
