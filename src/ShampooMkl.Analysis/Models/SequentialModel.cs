using System.Numerics.Tensors;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Models;

/// <summary>A chain of layers ending in logits, with softmax cross-entropy on top; the base of the concrete models.</summary>
/// <remarks>
/// All buffers (input copy, labels, probabilities, logit gradient, every layer's activations) are allocated at
/// construction for <see cref="MaxBatchSize"/> examples. The input is copied in because layers keep references to
/// what they read, and a caller's span cannot be kept.
/// </remarks>
public abstract class SequentialModel : IModel
{
    private readonly Layer[] _layers;
    private readonly float[] _input;
    private readonly byte[] _labels;
    private readonly float[] _probabilities;
    private readonly float[] _logitGradient;
    private bool _canBackward;

    private protected SequentialModel(int inputFeatures, int classes, int maxBatchSize, IReadOnlyList<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputFeatures);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classes, byte.MaxValue + 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchSize);
        if (layers.Count == 0 || layers[0].InputSize != inputFeatures || layers[^1].OutputSize != classes)
        {
            throw new ArgumentException($"The layers must map {inputFeatures} features to {classes} logits.", nameof(layers));
        }

        for (var l = 1; l < layers.Count; l++)
        {
            if (layers[l].InputSize != layers[l - 1].OutputSize)
            {
                throw new ArgumentException($"Layer '{layers[l].Name}' reads {layers[l].InputSize} values but '{layers[l - 1].Name}' writes {layers[l - 1].OutputSize}.", nameof(layers));
            }
        }

        _layers = [.. layers];
        InputFeatures = inputFeatures;
        Classes = classes;
        MaxBatchSize = maxBatchSize;
        _input = new float[checked(maxBatchSize * inputFeatures)];
        _labels = new byte[maxBatchSize];
        _probabilities = new float[checked(maxBatchSize * classes)];
        _logitGradient = new float[checked(maxBatchSize * classes)];
        Parameters = [.. _layers.SelectMany(layer => layer.Parameters)];
        var dense = _layers.OfType<DenseLayer>().ToArray();
        for (var i = 0; i < dense.Length; i++)
        {
            dense[i].Index = i;
        }

        DenseLayers = dense;
    }

    /// <summary>The layers in evaluation order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <inheritdoc />
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <inheritdoc />
    public IReadOnlyList<DenseLayer> DenseLayers { get; }

    /// <inheritdoc />
    public int InputFeatures { get; }

    /// <inheritdoc />
    public int Classes { get; }

    /// <inheritdoc />
    public int MaxBatchSize { get; }

    /// <inheritdoc />
    public int BatchSize { get; private set; }

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount => Parameters.Sum(p => (long)p.Length);

    /// <inheritdoc />
    public ReadOnlySpan<float> Probabilities => _probabilities.AsSpan(0, BatchSize * Classes);

    /// <summary>Logits of the last forward pass (also after Predict), B×classes row-major.</summary>
    public ReadOnlySpan<float> Logits => _layers[^1].Output.AsSpan(0, BatchSize * Classes);

    /// <inheritdoc />
    public float Forward(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int batchSize)
    {
        if (labels.Length < batchSize)
        {
            throw new ArgumentException($"{batchSize} examples need {batchSize} labels, got {labels.Length}.", nameof(labels));
        }

        RunLayers(inputs, batchSize);
        labels[..batchSize].CopyTo(_labels);
        var loss = SoftmaxCrossEntropy.Forward(Logits, _labels.AsSpan(0, batchSize), batchSize, Classes, _probabilities);
        _canBackward = true;
        return loss;
    }

    /// <inheritdoc />
    public void Backward() => Backward(_labels.AsSpan(0, BatchSize));

    /// <inheritdoc />
    public void Backward(ReadOnlySpan<byte> labels)
    {
        if (!_canBackward)
        {
            throw new InvalidOperationException("Backward needs a Forward first (Predict and Evaluate overwrite the forward state).");
        }

        var batch = BatchSize;
        SoftmaxCrossEntropy.Gradient(Probabilities, labels, batch, Classes, _logitGradient);
        var gradient = _logitGradient;
        for (var l = _layers.Length - 1; l >= 0; l--)
        {
            _layers[l].Backward(gradient, batch, computeInputGradient: l > 0);
            if (l > 0)
            {
                gradient = _layers[l].InputGradient;
            }
        }
    }

    /// <inheritdoc />
    public float ForwardBackward(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int batchSize)
    {
        var loss = Forward(inputs, labels, batchSize);
        Backward();
        return loss;
    }

    /// <inheritdoc />
    public int Predict(ReadOnlySpan<float> input)
    {
        Span<int> prediction = stackalloc int[1];
        Predict(input, 1, prediction);
        return prediction[0];
    }

    /// <inheritdoc />
    public void Predict(ReadOnlySpan<float> inputs, int count, Span<int> predictions)
    {
        CheckCount(inputs, count);
        if (predictions.Length < count)
        {
            throw new ArgumentException($"{count} predictions do not fit {predictions.Length} slots.", nameof(predictions));
        }

        _canBackward = false;
        for (var start = 0; start < count; start += MaxBatchSize)
        {
            var batch = Math.Min(MaxBatchSize, count - start);
            RunLayers(inputs.Slice(start * InputFeatures, batch * InputFeatures), batch);
            var logits = Logits;
            for (var i = 0; i < batch; i++)
            {
                predictions[start + i] = TensorPrimitives.IndexOfMax(logits.Slice(i * Classes, Classes));
            }
        }
    }

    /// <inheritdoc />
    public (double Loss, double Accuracy) Evaluate(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int count)
    {
        CheckCount(inputs, count);
        if (labels.Length < count)
        {
            throw new ArgumentException($"{count} examples need {count} labels, got {labels.Length}.", nameof(labels));
        }

        var lossSum = 0.0;
        var correct = 0;
        for (var start = 0; start < count; start += MaxBatchSize)
        {
            var batch = Math.Min(MaxBatchSize, count - start);
            lossSum += (double)Forward(inputs.Slice(start * InputFeatures, batch * InputFeatures), labels.Slice(start, batch), batch) * batch;
            var probabilities = Probabilities;
            for (var i = 0; i < batch; i++)
            {
                if (TensorPrimitives.IndexOfMax(probabilities.Slice(i * Classes, Classes)) == labels[start + i])
                {
                    correct++;
                }
            }
        }

        _canBackward = false;
        return (lossSum / count, (double)correct / count);
    }

    /// <inheritdoc />
    public void PerExampleGradients(int layerIndex, Span<float> destination) => Dense(layerIndex).PerExampleGradients(destination);

    /// <inheritdoc />
    public void PerExampleBiasGradients(int layerIndex, Span<float> destination) => Dense(layerIndex).PerExampleBiasGradients(destination);

    /// <inheritdoc />
    public override string ToString() => $"{GetType().Name}: {string.Join(" → ", _layers.Select(l => l.Name))} ({ParameterCount} parameters)";

    private DenseLayer Dense(int layerIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layerIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layerIndex, DenseLayers.Count);
        return DenseLayers[layerIndex];
    }

    private void CheckCount(ReadOnlySpan<float> inputs, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (inputs.Length < (long)count * InputFeatures)
        {
            throw new ArgumentException($"{count} examples of {InputFeatures} features need {(long)count * InputFeatures} values, got {inputs.Length}.", nameof(inputs));
        }
    }

    private void RunLayers(ReadOnlySpan<float> inputs, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, MaxBatchSize);
        CheckCount(inputs, batchSize);
        _canBackward = false;
        inputs[..(batchSize * InputFeatures)].CopyTo(_input);
        BatchSize = batchSize;
        var current = _input;
        foreach (var layer in _layers)
        {
            layer.Forward(current, batchSize);
            current = layer.Output;
        }
    }
}
