using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Models;

/// <summary>A classifier trained with softmax cross-entropy whose parameters an optimizer updates in place.</summary>
/// <remarks>
/// Inputs are row-major batches (example i occupies <c>inputs[i·InputFeatures ..]</c>); only the first
/// <c>batchSize</c> rows of longer spans are read. Activations live in buffers sized for
/// <see cref="MaxBatchSize"/> when the model is built, so a Forward/Backward step allocates no managed memory.
/// A model is not thread-safe: it holds the state of its last forward and backward pass.
/// </remarks>
public interface IModel
{
    /// <summary>The trainable tensors, in a fixed order (the optimizer's and the checkpoints' order).</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The fully connected layers, indexed as <see cref="DenseLayer.Index"/>; the per-example analysis runs on these.</summary>
    IReadOnlyList<DenseLayer> DenseLayers { get; }

    /// <summary>Values per example.</summary>
    int InputFeatures { get; }

    /// <summary>Number of classes (logits per example).</summary>
    int Classes { get; }

    /// <summary>Largest batch a single Forward accepts; evaluation splits longer inputs into batches of this size.</summary>
    int MaxBatchSize { get; }

    /// <summary>Batch size of the last <see cref="Forward"/>, 0 before the first.</summary>
    int BatchSize { get; }

    /// <summary>Softmax probabilities of the last <see cref="Forward"/>, <see cref="BatchSize"/>×<see cref="Classes"/> row-major.</summary>
    /// <remarks>Callers sample labels ŷ ~ p(·|x) from these (with their own <see cref="Random"/>) and pass them to
    /// <see cref="Backward(ReadOnlySpan{byte})"/> to get the sampled-label Fisher's gradients.</remarks>
    ReadOnlySpan<float> Probabilities { get; }

    /// <summary>Runs the batch and returns the mean softmax cross-entropy against <paramref name="labels"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not in 1…<see cref="MaxBatchSize"/>, or a label is not below <see cref="Classes"/>.</exception>
    /// <exception cref="ArgumentException">The spans hold fewer than <paramref name="batchSize"/> examples.</exception>
    float Forward(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int batchSize);

    /// <summary>Writes the gradient of the last Forward's mean loss into every <see cref="Parameter.Gradient"/> (overwriting).</summary>
    /// <exception cref="InvalidOperationException">No Forward since construction or since the last Predict/Evaluate.</exception>
    void Backward();

    /// <summary>Like <see cref="Backward()"/> but against other labels for the same forward pass (e.g. labels sampled from
    /// <see cref="Probabilities"/>); may be called repeatedly after one Forward.</summary>
    /// <remarks>Backward never touches the forward state, so the exact (class-weighted) Fisher can be built by calling
    /// this once per class c with every label set to c and weighting example i's per-example gradients by p_i[c].</remarks>
    /// <exception cref="ArgumentException"><paramref name="labels"/> holds fewer than <see cref="BatchSize"/> labels.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is not below <see cref="Classes"/>.</exception>
    /// <exception cref="InvalidOperationException">No Forward since construction or since the last Predict/Evaluate.</exception>
    void Backward(ReadOnlySpan<byte> labels);

    /// <summary><see cref="Forward"/> then <see cref="Backward()"/>; returns the loss.</summary>
    float ForwardBackward(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int batchSize);

    /// <summary>The most probable class of one example.</summary>
    /// <remarks>Overwrites the forward state, so Backward needs a new Forward afterwards.</remarks>
    int Predict(ReadOnlySpan<float> input);

    /// <summary>Writes the most probable class of each of <paramref name="count"/> examples, in batches.</summary>
    /// <remarks>Overwrites the forward state, so Backward needs a new Forward afterwards.</remarks>
    void Predict(ReadOnlySpan<float> inputs, int count, Span<int> predictions);

    /// <summary>Mean loss and fraction of correct predictions over <paramref name="count"/> examples, in batches.</summary>
    /// <remarks>Overwrites the forward state, so Backward needs a new Forward afterwards.</remarks>
    (double Loss, double Accuracy) Evaluate(ReadOnlySpan<float> inputs, ReadOnlySpan<byte> labels, int count);

    /// <summary>Per-example weight gradients of dense layer <paramref name="layerIndex"/> from the last backward pass;
    /// see <see cref="DenseLayer.PerExampleGradients"/>.</summary>
    void PerExampleGradients(int layerIndex, Span<float> destination);

    /// <summary>Per-example bias gradients of dense layer <paramref name="layerIndex"/>; see <see cref="DenseLayer.PerExampleBiasGradients"/>.</summary>
    void PerExampleBiasGradients(int layerIndex, Span<float> destination);
}
