using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Models;

/// <summary>2-D convolution (stride 1, zero padding) over channels-last images, computed as im2col followed by one gemm per batch.</summary>
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
    public override IReadOnlyList<Parameter> Parameters => [Weight, Bias];

    private int Pixels => OutputHeight * OutputWidth;

    internal override void Forward(float[] input, int batchSize)
    {
        CheckBatch(input, batchSize, InputSize);
        _batchSize = batchSize;
        var rows = batchSize * Pixels;
        ImageToColumns(input, batchSize);

        var y = new MatrixView<float>(Output.AsSpan(0, rows * OutChannels), rows, OutChannels);
        var bias = Bias.Value.AsSpan();
        for (var r = 0; r < rows; r++)
        {
            bias.CopyTo(y.Row(r));
        }

        MatrixProduct.Multiply(PatchMatrix(rows), false, WeightMatrix(), true, y, 1f, 1f);
    }

    internal override void Backward(float[] outputGradient, int batchSize, bool computeInputGradient)
    {
        CheckBatch(outputGradient, batchSize, OutputSize);
        if (batchSize != _batchSize)
        {
            throw new InvalidOperationException($"Layer '{Name}' ran backward for {batchSize} examples after a forward pass of {_batchSize}.");
        }

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
        var row = 0;
        for (var b = 0; b < batchSize; b++)
        {
            var image = b * InputSize;
            for (var oy = 0; oy < OutputHeight; oy++)
            {
                for (var ox = 0; ox < OutputWidth; ox++, row++)
                {
                    var patch = _patches.AsSpan(row * PatchSize, PatchSize);
                    for (var ch = 0; ch < c; ch++)
                    {
                        for (var ky = 0; ky < k; ky++)
                        {
                            var iy = oy + ky - Padding;
                            var target = patch.Slice(((ch * k) + ky) * k, k);
                            if ((uint)iy >= (uint)Height)
                            {
                                target.Clear();
                                continue;
                            }

                            var line = image + (iy * Width * c) + ch;
                            for (var kx = 0; kx < k; kx++)
                            {
                                var ix = ox + kx - Padding;
                                target[kx] = (uint)ix < (uint)Width ? input[line + (ix * c)] : 0f;
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
        image.AsSpan(0, batchSize * InputSize).Clear();
        var row = 0;
        for (var b = 0; b < batchSize; b++)
        {
            var start = b * InputSize;
            for (var oy = 0; oy < OutputHeight; oy++)
            {
                for (var ox = 0; ox < OutputWidth; ox++, row++)
                {
                    var patch = patches.AsSpan(row * PatchSize, PatchSize);
                    for (var ch = 0; ch < c; ch++)
                    {
                        for (var ky = 0; ky < k; ky++)
                        {
                            var iy = oy + ky - Padding;
                            if ((uint)iy >= (uint)Height)
                            {
                                continue;
                            }

                            var source = patch.Slice(((ch * k) + ky) * k, k);
                            var line = start + (iy * Width * c) + ch;
                            for (var kx = 0; kx < k; kx++)
                            {
                                var ix = ox + kx - Padding;
                                if ((uint)ix < (uint)Width)
                                {
                                    image[line + (ix * c)] += source[kx];
                                }
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
