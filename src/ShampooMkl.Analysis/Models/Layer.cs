using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Models;

/// <summary>One stage of a <see cref="SequentialModel"/>, mapping a batch of flat examples to a batch of flat outputs.</summary>
/// <remarks>
/// Layers own their output buffer (and, once needed, their input-gradient buffer), both sized for the model's
/// largest batch, and keep references to the buffers they read so a later backward pass can use them. The
/// signal handed to <see cref="Backward"/> is the gradient of the batch's <em>mean</em> loss; every operation
/// is linear in it, so parameter gradients come out as mean gradients without further scaling.
/// </remarks>
public abstract class Layer
{
    private float[]? _inputGradient;

    private protected Layer(string name, int inputSize, int outputSize, int maxBatchSize)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchSize);
        Name = name;
        InputSize = inputSize;
        OutputSize = outputSize;
        MaxBatchSize = maxBatchSize;
        Output = new float[checked(maxBatchSize * outputSize)];
    }

    /// <summary>Prefix of the layer's parameter names.</summary>
    public string Name { get; }

    /// <summary>Values per example read.</summary>
    public int InputSize { get; }

    /// <summary>Values per example written.</summary>
    public int OutputSize { get; }

    /// <summary>Largest batch the buffers hold.</summary>
    public int MaxBatchSize { get; }

    /// <summary>Trainable tensors of this layer (none for activations and pooling).</summary>
    public virtual IReadOnlyList<Parameter> Parameters => [];

    /// <summary>Batch×OutputSize activations of the last forward pass (first rows of a max-batch buffer).</summary>
    internal float[] Output { get; }

    /// <summary>Gradient of the mean loss with respect to the layer input, valid after a backward pass that asked for it.</summary>
    internal float[] InputGradient => _inputGradient ?? throw new InvalidOperationException($"Layer '{Name}' has not computed an input gradient.");

    /// <summary>Computes the outputs of the first <paramref name="batchSize"/> rows of <paramref name="input"/>, keeping a reference to it.</summary>
    internal abstract void Forward(float[] input, int batchSize);

    /// <summary>Writes parameter gradients from the output gradient and, if asked, the input gradient.</summary>
    /// <remarks>The first layer of a model skips the input gradient: nobody consumes it, and for a dense or
    /// convolutional layer it costs as much as the weight gradient.</remarks>
    internal abstract void Backward(float[] outputGradient, int batchSize, bool computeInputGradient);

    /// <summary>Allocated on first use so the first layer never pays for a buffer it does not need.</summary>
    private protected float[] EnsureInputGradient() => _inputGradient ??= new float[checked(MaxBatchSize * InputSize)];

    private protected void CheckBatch(float[] buffer, int batchSize, int rowLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, MaxBatchSize);
        if (buffer.Length < (long)batchSize * rowLength)
        {
            throw new ArgumentException($"Layer '{Name}' needs {batchSize}×{rowLength} values, got {buffer.Length}.", nameof(buffer));
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{GetType().Name} {Name} ({InputSize}→{OutputSize})";
}
