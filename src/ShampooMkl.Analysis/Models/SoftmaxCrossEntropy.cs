using System.Numerics.Tensors;

namespace ShampooMkl.Analysis.Models;

/// <summary>Softmax cross-entropy over row-major B×classes logits: the loss, its gradient and label sampling.</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>Writes softmax probabilities and returns the mean loss (1/B) Σ_i [logsumexp(z_i) − z_i[y_i]].</summary>
    /// <remarks>The row maximum is subtracted before exponentiating, so no exp overflows and the largest term is 1;
    /// the loss is formed as log Σ exp(z − max) − (z_y − max), which needs neither the max nor p_y on its own and
    /// stays finite even when p_y underflows to 0. Per-example losses are summed in double.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or a label is not below <paramref name="classes"/>.</exception>
    /// <exception cref="ArgumentException">A span holds fewer than B rows.</exception>
    public static float Forward(ReadOnlySpan<float> logits, ReadOnlySpan<byte> labels, int batchSize, int classes, Span<float> probabilities)
    {
        Check(logits.Length, labels, batchSize, classes, probabilities.Length);
        var total = 0.0;
        for (var i = 0; i < batchSize; i++)
        {
            var z = logits.Slice(i * classes, classes);
            var p = probabilities.Slice(i * classes, classes);
            var max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, p);
            var shiftedTarget = p[labels[i]];
            TensorPrimitives.Exp(p, p);
            var sum = TensorPrimitives.Sum(p);
            TensorPrimitives.Multiply(p, 1f / sum, p);
            total += Math.Log(sum) - shiftedTarget;
        }

        return (float)(total / batchSize);
    }

    /// <summary>Writes the gradient of the mean loss with respect to the logits, (p_i − onehot(y_i)) / B.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or a label is not below <paramref name="classes"/>.</exception>
    /// <exception cref="ArgumentException">A span holds fewer than B rows.</exception>
    public static void Gradient(ReadOnlySpan<float> probabilities, ReadOnlySpan<byte> labels, int batchSize, int classes, Span<float> destination)
    {
        Check(probabilities.Length, labels, batchSize, classes, destination.Length);
        var n = batchSize * classes;
        var scale = 1f / batchSize;
        TensorPrimitives.Multiply(probabilities[..n], scale, destination[..n]);
        for (var i = 0; i < batchSize; i++)
        {
            destination[(i * classes) + labels[i]] -= scale;
        }
    }

    /// <summary>Draws ŷ_i ~ Categorical(p_i) for each row (the labels of the sampled-label Fisher).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    /// <exception cref="ArgumentException">A span holds fewer than B rows.</exception>
    public static void SampleLabels(ReadOnlySpan<float> probabilities, int batchSize, int classes, Random random, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        CheckSizes(probabilities.Length, batchSize, classes, destination.Length, batchSize);
        for (var i = 0; i < batchSize; i++)
        {
            var p = probabilities.Slice(i * classes, classes);
            var u = random.NextDouble();
            var cumulative = 0.0;

            // Rounding can leave Σp a hair below 1; the last class with positive mass takes that remainder.
            var label = classes - 1;
            while (label > 0 && p[label] <= 0f)
            {
                label--;
            }

            for (var c = 0; c < classes; c++)
            {
                cumulative += p[c];
                if (u < cumulative)
                {
                    label = c;
                    break;
                }
            }

            destination[i] = (byte)label;
        }
    }

    private static void Check(int inputLength, ReadOnlySpan<byte> labels, int batchSize, int classes, int outputLength)
    {
        CheckSizes(inputLength, batchSize, classes, labels.Length, batchSize);
        if (outputLength < (long)batchSize * classes)
        {
            throw new ArgumentException($"The destination needs {batchSize}×{classes} values, got {outputLength}.");
        }

        for (var i = 0; i < batchSize; i++)
        {
            if (labels[i] >= classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {labels[i]} of example {i} is not below {classes} classes.");
            }
        }
    }

    private static void CheckSizes(int valuesLength, int batchSize, int classes, int rowsLength, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classes, byte.MaxValue + 1);
        if (valuesLength < (long)batchSize * classes)
        {
            throw new ArgumentException($"Expected {batchSize}×{classes} values, got {valuesLength}.");
        }

        if (rowsLength < rows)
        {
            throw new ArgumentException($"Expected {rows} labels, got {rowsLength}.");
        }
    }
}
