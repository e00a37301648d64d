using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Models;

/// <summary>2-D convolution (stride 1, optional zero padding) over channels-last images, computed as im2col followed by one gemm per batch.</summary>
/// <remarks>
/// Activations are channels-last (example = H×W×C, row-major). With that layout the patch matrix P has one row
/// per output pixel of the whole batch, (B·Ho·Wo)×(C·k·k), and the output Y = P Wᵀ + b is already channels-last,
/// so neither direction needs a transpose. The weight keeps the usual [out, in, k, k] shape, so the optimizer sees an
/// out×(in·k·k) matrix; patch columns are ordered (c, ky, kx) to match it.
/// </remarks>
public sealed class Conv2dLayer : Layer
{
    private readonly float[] _patches;
    private readonly float[] _ones;
    private float[]? _patchGradient;
    private float[]? _signal;
    private int _batchSize;

    internal Conv2dLayer(
        string name, int height, int width, int inChannels, int outChannels, int kernelSize, int padding,
        int maxBatchSize, Random random)
        : base(name, height * width * inChannels, OutputPixels(name, height, width, kernelSize, padding) * outChannels, maxBatchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentNullException.ThrowIfNull(random);
        Height = height;
        Width = width;
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Padding = padding;
        OutputHeight = height + (2 * padding) - kernelSize + 1;
        OutputWidth = width + (2 * padding) - kernelSize + 1;
        PatchSize = inChannels * kernelSize * kernelSize;

        var weight = new float[checked(outChannels * PatchSize)];
        Initialization.KaimingUniform(weight, PatchSize, random);
        Weight = new Parameter($"{name}.weight", weight, outChannels, inChannels, kernelSize, kernelSize);
        Bias = new Parameter($"{name}.bias", new float[outChannels], outChannels);
        Parameters = [Weight, Bias];

        var rows = checked(maxBatchSize * OutputHeight * OutputWidth);
        _patches = new float[checked(rows * PatchSize)];
        _ones = new float[rows];
        _ones.AsSpan().Fill(1f);
    }

    /// <summary>Input height.</summary>
    public int Height { get; }

    /// <summary>Input width.</summary>
    public int Width { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels (filters).</summary>
    public int OutChannels { get; }

    /// <summary>Side of the square kernel.</summary>
    public int KernelSize { get; }

    /// <summary>Zeros added on each side of the image.</summary>
    public int Padding { get; }

    /// <summary>Output height.</summary>
    public int OutputHeight { get; }

    /// <summary>Output width.</summary>
    public int OutputWidth { get; }

    /// <summary>in·k·k: columns of the weight matrix and of the patch matrix.</summary>
    public int PatchSize { get; }

    /// <summary>Filters, shape [out, in, k, k].</summary>
    public Parameter Weight { get; }

    /// <summary>One bias per output channel, shape [out].</summary>
    public Parameter Bias { get; }

    /// <inheritdoc />
    public override IReadOnlyList<Parameter> Parameters { get; }

    private int Pixels => OutputHeight * OutputWidth;

    /// <summary>Writes each example's own weight gradient G_i = B·dY_iᵀ P_i (out×in·k·k), N×out×(in·k·k) row-major.</summary>
    /// <remarks>dY_i and P_i are example i's Ho·Wo rows of the output gradient and of the patch matrix; as for
    /// <see cref="DenseLayer.PerExampleGradients"/>, the factor B undoes the batch mean, so (1/B)·Σ_i G_i is the
    /// weight gradient.</remarks>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than B·out·in·k·k.</exception>
    /// <exception cref="InvalidOperationException">No backward pass since the last forward pass.</exception>
    public void PerExampleGradients(Span<float> destination)
    {
        var signal = _signal ?? throw new InvalidOperationException($"Convolution '{Name}' has no backward state: run Backward after the last Forward.");
        var size = OutChannels * PatchSize;
        if (destination.Length < (long)_batchSize * size)
        {
            throw new ArgumentException(
                $"Per-example gradients of '{Name}' need {_batchSize}×{OutChannels}×{PatchSize} values, got {destination.Length}.",
                nameof(destination));
        }

        var pixels = Pixels;
        for (var i = 0; i < _batchSize; i++)
        {
            var dy = new ReadOnlyMatrixView<float>(signal.AsSpan(i * pixels * OutChannels, pixels * OutChannels), pixels, OutChannels);
            var patches = new ReadOnlyMatrixView<float>(_patches.AsSpan(i * pixels * PatchSize, pixels * PatchSize), pixels, PatchSize);
            var g = new MatrixView<float>(destination.Slice(i * size, size), OutChannels, PatchSize);
            MatrixProduct.Multiply(dy, true, patches, false, g, (float)_batchSize, 0f);
        }
    }

    internal override void Forward(float[] input, int batchSize)
    {
        CheckBatch(input, batchSize, InputSize);
        _batchSize = batchSize;
        _signal = null;
        var rows = batchSize * Pixels;
        ImageToColumns(input, batchSize);

        var y = new MatrixView<float>(Output.AsSpan(0, rows * OutChannels), rows, OutChannels);
        RowBroadcast.Fill(y.Data, Bias.Value);

        MatrixProduct.Multiply(PatchMatrix(rows), false, WeightMatrix(), true, y, 1f, 1f);
    }

    internal override void Backward(float[] outputGradient, int batchSize, bool computeInputGradient)
    {
        CheckBatch(outputGradient, batchSize, OutputSize);
        if (batchSize != _batchSize)
        {
            throw new InvalidOperationException($"Layer '{Name}' ran backward for {batchSize} examples after a forward pass of {_batchSize}.");
        }

        _signal = outputGradient;
        var rows = batchSize * Pixels;
        var dy = new ReadOnlyMatrixView<float>(outputGradient.AsSpan(0, rows * OutChannels), rows, OutChannels);
        MatrixProduct.Multiply(dy, true, PatchMatrix(rows), false, new MatrixView<float>(Weight.Gradient, OutChannels, PatchSize), 1f, 0f);
        var ones = new ReadOnlyMatrixView<float>(_ones.AsSpan(0, rows), 1, rows);
        MatrixProduct.Multiply(ones, false, dy, false, new MatrixView<float>(Bias.Gradient, 1, OutChannels), 1f, 0f);

        if (computeInputGradient)
        {
            _patchGradient ??= new float[_patches.Length];
            var dp = new MatrixView<float>(_patchGradient.AsSpan(0, rows * PatchSize), rows, PatchSize);
            MatrixProduct.Multiply(dy, false, WeightMatrix(), false, dp, 1f, 0f);
            ColumnsToImage(_patchGradient, EnsureInputGradient(), batchSize);
        }
    }

    private ReadOnlyMatrixView<float> PatchMatrix(int rows) => new(_patches.AsSpan(0, rows * PatchSize), rows, PatchSize);

    private ReadOnlyMatrixView<float> WeightMatrix() => new(Weight.Value, OutChannels, PatchSize);

    private void ImageToColumns(float[] input, int batchSize)
    {
        var k = KernelSize;
        var c = InChannels;
        var lineLength = Width * c;
        var row = 0;
        for (var b = 0; b < batchSize; b++)
        {
            ReadOnlySpan<float> image = input.AsSpan(b * InputSize, InputSize);
            for (var oy = 0; oy < OutputHeight; oy++)
            {
                for (var ox = 0; ox < OutputWidth; ox++, row++)
                {
                    var patch = _patches.AsSpan(row * PatchSize, PatchSize);
                    var x0 = ox - Padding;
                    var inside = x0 >= 0 && x0 + k <= Width;
                    for (var ky = 0; ky < k; ky++)
                    {
                        var iy = oy + ky - Padding;
                        if ((uint)iy >= (uint)Height)
                        {
                            for (var ch = 0; ch < c; ch++)
                            {
                                patch.Slice(((ch * k) + ky) * k, k).Clear();
                            }

                            continue;
                        }

                        var line = image.Slice(iy * lineLength, lineLength);
                        if (inside && c == 1)
                        {
                            // One channel: the k pixels under the kernel row are contiguous in the image.
                            line.Slice(x0, k).CopyTo(patch.Slice(ky * k, k));
                            continue;
                        }

                        for (var kx = 0; kx < k; kx++)
                        {
                            var ix = x0 + kx;
                            var pixel = (uint)ix < (uint)Width ? line.Slice(ix * c, c) : default;
                            for (var ch = 0; ch < c; ch++)
                            {
                                patch[(((ch * k) + ky) * k) + kx] = pixel.IsEmpty ? 0f : pixel[ch];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Adjoint of <see cref="ImageToColumns"/>: every patch entry adds back onto the pixel it was copied from.</summary>
    private void ColumnsToImage(float[] patches, float[] image, int batchSize)
    {
        var k = KernelSize;
        var c = InChannels;
        var lineLength = Width * c;
        image.AsSpan(0, batchSize * InputSize).Clear();
        var row = 0;
        for (var b = 0; b < batchSize; b++)
        {
            var target = image.AsSpan(b * InputSize, InputSize);
            for (var oy = 0; oy < OutputHeight; oy++)
            {
                for (var ox = 0; ox < OutputWidth; ox++, row++)
                {
                    ReadOnlySpan<float> patch = patches.AsSpan(row * PatchSize, PatchSize);
                    var x0 = ox - Padding;
                    var inside = x0 >= 0 && x0 + k <= Width;
                    for (var ky = 0; ky < k; ky++)
                    {
                        var iy = oy + ky - Padding;
                        if ((uint)iy >= (uint)Height)
                        {
                            continue;
                        }

                        var line = target.Slice(iy * lineLength, lineLength);
                        if (inside && c == 1)
                        {
                            var pixels = line.Slice(x0, k);
                            System.Numerics.Tensors.TensorPrimitives.Add(pixels, patch.Slice(ky * k, k), pixels);
                            continue;
                        }

                        for (var kx = 0; kx < k; kx++)
                        {
                            var ix = x0 + kx;
                            if ((uint)ix >= (uint)Width)
                            {
                                continue;
                            }

                            var pixel = line.Slice(ix * c, c);
                            for (var ch = 0; ch < c; ch++)
                            {
                                pixel[ch] += patch[(((ch * k) + ky) * k) + kx];
                            }
                        }
                    }
                }
            }
        }
    }

    private static int OutputPixels(string name, int height, int width, int kernelSize, int padding)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        var outHeight = height + (2 * padding) - kernelSize + 1;
        var outWidth = width + (2 * padding) - kernelSize + 1;
        if (outHeight <= 0 || outWidth <= 0)
        {
            throw new ArgumentException($"Convolution '{name}': a {kernelSize}×{kernelSize} kernel does not fit a {height}×{width} image with padding {padding}.");
        }

        return outHeight * outWidth;
    }
}
