using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Models;

/// <summary>Fully connected layer y = x Wᵀ + b for a batch x (B×in), W (out×in), b (out); keeps what per-example gradients need.</summary>
/// <remarks>
/// The weight is stored as the optimizer sees it, an out×in matrix, so its gradient (1/B)·δᵀa is a single gemm.
/// After a backward pass the layer still holds a (the B×in input) and δ (the B×out gradient of the batch's
/// mean loss with respect to y), which is all that G_i = δ_i a_iᵀ needs.
/// </remarks>
public sealed class DenseLayer : Layer
{
    private readonly float[] _ones;
    private float[]? _input;
    private float[]? _signal;
    private int _batchSize;

    internal DenseLayer(string name, int inputs, int outputs, int maxBatchSize, Random random)
        : base(name, inputs, outputs, maxBatchSize)
    {
        ArgumentNullException.ThrowIfNull(random);
        var weight = new float[checked(outputs * inputs)];
        Initialization.KaimingUniform(weight, inputs, random);
        Weight = new Parameter($"{name}.weight", weight, outputs, inputs);
        Bias = new Parameter($"{name}.bias", new float[outputs], outputs);
        Parameters = [Weight, Bias];
        _ones = new float[maxBatchSize];
        _ones.AsSpan().Fill(1f);
    }

    /// <summary>Position in the model's <see cref="IModel.DenseLayers"/>.</summary>
    public int Index { get; internal set; }

    /// <summary>Input features (columns of W).</summary>
    public int Inputs => InputSize;

    /// <summary>Output features (rows of W).</summary>
    public int Outputs => OutputSize;

    /// <summary>W, shape [out, in].</summary>
    public Parameter Weight { get; }

    /// <summary>b, shape [out].</summary>
    public Parameter Bias { get; }

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Whether a backward pass has run since the last forward pass, so a and δ belong together.</summary>
    public bool HasBackwardState => _signal is not null;

    /// <summary>Batch size of the last forward pass.</summary>
    public int BatchSize => _batchSize;

    /// <summary>a: the layer input of the last forward pass, B×in row-major.</summary>
    public ReadOnlySpan<float> LayerInput => _input is null ? default : _input.AsSpan(0, _batchSize * Inputs);

    /// <summary>δ: gradient of the batch's mean loss with respect to the layer output, B×out row-major.</summary>
    /// <remarks>Row i is 1/B times example i's own δ_i = ∂ℓ_i/∂y_i; <see cref="PerExampleBiasGradients"/> gives the unscaled rows.</remarks>
    /// <exception cref="InvalidOperationException">No backward pass since the last forward pass.</exception>
    public ReadOnlySpan<float> BackpropSignal => RequireSignal().AsSpan(0, _batchSize * Outputs);

    /// <summary>Writes G_i = δ_i a_iᵀ (out×in) for every example i of the last batch, N×out×in row-major.</summary>
    /// <remarks>
    /// G_i is the gradient of example i's <em>own</em> loss ℓ_i, not of the batch mean: the rows of
    /// <see cref="BackpropSignal"/> are scaled back up by B. Hence (1/B)·Σ_i G_i equals <see cref="Weight"/>'s
    /// gradient, and for a batch of one G_0 is exactly that gradient. Each G_i is a rank-one gemm (k = 1).
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than B·out·in.</exception>
    /// <exception cref="InvalidOperationException">No backward pass since the last forward pass.</exception>
    public void PerExampleGradients(Span<float> destination)
    {
        var signal = RequireSignal();
        var input = _input!;
        var size = Outputs * Inputs;
        if (destination.Length < (long)_batchSize * size)
        {
            throw new ArgumentException(
                $"Per-example gradients of '{Name}' need {_batchSize}×{Outputs}×{Inputs} values, got {destination.Length}.",
                nameof(destination));
        }

        float scale = _batchSize;
        for (var i = 0; i < _batchSize; i++)
        {
            var delta = new ReadOnlyMatrixView<float>(signal.AsSpan(i * Outputs, Outputs), Outputs, 1);
            var a = new ReadOnlyMatrixView<float>(input.AsSpan(i * Inputs, Inputs), 1, Inputs);
            var g = new MatrixView<float>(destination.Slice(i * size, size), Outputs, Inputs);
            MatrixProduct.Multiply(delta, false, a, false, g, scale, 0f);
        }
    }

    /// <summary>Writes example i's own bias gradient δ_i (= B times row i of <see cref="BackpropSignal"/>), N×out row-major.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than B·out.</exception>
    /// <exception cref="InvalidOperationException">No backward pass since the last forward pass.</exception>
    public void PerExampleBiasGradients(Span<float> destination)
    {
        var signal = RequireSignal();
        var length = _batchSize * Outputs;
        if (destination.Length < length)
        {
            throw new ArgumentException(
                $"Per-example bias gradients of '{Name}' need {_batchSize}×{Outputs} values, got {destination.Length}.",
                nameof(destination));
        }

        System.Numerics.Tensors.TensorPrimitives.Multiply(signal.AsSpan(0, length), (float)_batchSize, destination[..length]);
    }

    internal override void Forward(float[] input, int batchSize)
    {
        CheckBatch(input, batchSize, Inputs);
        _input = input;
        _signal = null;
        _batchSize = batchSize;

        var y = new MatrixView<float>(Output.AsSpan(0, batchSize * Outputs), batchSize, Outputs);
        RowBroadcast.Fill(y.Data, Bias.Value);

        var x = new ReadOnlyMatrixView<float>(input.AsSpan(0, batchSize * Inputs), batchSize, Inputs);
        var w = new ReadOnlyMatrixView<float>(Weight.Value, Outputs, Inputs);
        MatrixProduct.Multiply(x, false, w, true, y, 1f, 1f);
    }

    internal override void Backward(float[] outputGradient, int batchSize, bool computeInputGradient)
    {
        CheckBatch(outputGradient, batchSize, Outputs);
        if (_input is null || batchSize != _batchSize)
        {
            throw new InvalidOperationException($"Layer '{Name}' ran backward for {batchSize} examples after a forward pass of {_batchSize}.");
        }

        _signal = outputGradient;
        var delta = new ReadOnlyMatrixView<float>(outputGradient.AsSpan(0, batchSize * Outputs), batchSize, Outputs);
        var a = new ReadOnlyMatrixView<float>(_input.AsSpan(0, batchSize * Inputs), batchSize, Inputs);
        MatrixProduct.Multiply(delta, true, a, false, new MatrixView<float>(Weight.Gradient, Outputs, Inputs), 1f, 0f);

        // Summing δ's rows as 1ᵀδ keeps the bias gradient in BLAS too.
        var ones = new ReadOnlyMatrixView<float>(_ones.AsSpan(0, batchSize), 1, batchSize);
        MatrixProduct.Multiply(ones, false, delta, false, new MatrixView<float>(Bias.Gradient, 1, Outputs), 1f, 0f);

        if (computeInputGradient)
        {
            var dx = new MatrixView<float>(EnsureInputGradient().AsSpan(0, batchSize * Inputs), batchSize, Inputs);
            MatrixProduct.Multiply(delta, false, new ReadOnlyMatrixView<float>(Weight.Value, Outputs, Inputs), false, dx, 1f, 0f);
        }
    }

    private float[] RequireSignal() =>
        _signal ?? throw new InvalidOperationException($"Dense layer '{Name}' has no backward state: run Backward after the last Forward.");
}
