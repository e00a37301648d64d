namespace ShampooMkl.Analysis.Models;

/// <summary>2×2 max pooling with stride 2 over channels-last (H×W×C) images; a trailing odd row or column is dropped.</summary>
public sealed class MaxPool2dLayer : Layer
{
    private readonly int[] _argMax;

    internal MaxPool2dLayer(string name, int height, int width, int channels, int maxBatchSize)
        : base(name, height * width * channels, PooledSize(name, height, width, channels), maxBatchSize)
    {
        Height = height;
        Width = width;
        Channels = channels;
        _argMax = new int[checked(maxBatchSize * OutputSize)];
    }

    /// <summary>Input height.</summary>
    public int Height { get; }

    /// <summary>Input width.</summary>
    public int Width { get; }

    /// <summary>Channels (unchanged by pooling).</summary>
    public int Channels { get; }

    /// <summary>Output height.</summary>
    public int OutputHeight => Height / 2;

    /// <summary>Output width.</summary>
    public int OutputWidth => Width / 2;

    internal override void Forward(float[] input, int batchSize)
    {
        CheckBatch(input, batchSize, InputSize);
        var c = Channels;
        var rowStride = Width * c;
        var o = 0;
        for (var b = 0; b < batchSize; b++)
        {
            var image = b * InputSize;
            for (var oy = 0; oy < OutputHeight; oy++)
            {
                for (var ox = 0; ox < OutputWidth; ox++)
                {
                    var corner = image + (2 * oy * rowStride) + (2 * ox * c);
                    for (var ch = 0; ch < c; ch++, o++)
                    {
                        // The winner's position is remembered so backward routes the gradient without re-comparing.
                        var first = corner + ch;
                        var best = first;
                        var value = input[first];
                        Consider(input, first + c, ref best, ref value);
                        Consider(input, first + rowStride, ref best, ref value);
                        Consider(input, first + rowStride + c, ref best, ref value);
                        Output[o] = value;
                        _argMax[o] = best;
                    }
                }
            }
        }
    }

    internal override void Backward(float[] outputGradient, int batchSize, bool computeInputGradient)
    {
        CheckBatch(outputGradient, batchSize, OutputSize);
        if (!computeInputGradient)
        {
            return;
        }

        var dx = EnsureInputGradient().AsSpan(0, batchSize * InputSize);
        dx.Clear();
        var n = batchSize * OutputSize;
        for (var o = 0; o < n; o++)
        {
            // Windows do not overlap, so each input receives at most one output's gradient.
            dx[_argMax[o]] = outputGradient[o];
        }
    }

    private static int PooledSize(string name, int height, int width, int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if (height < 2 || width < 2)
        {
            throw new ArgumentException($"Pooling '{name}' needs at least a 2×2 image, got {height}×{width}.");
        }

        return (height / 2) * (width / 2) * channels;
    }

    private static void Consider(float[] input, int index, ref int best, ref float value)
    {
        if (input[index] > value)
        {
            value = input[index];
            best = index;
        }
    }
}
