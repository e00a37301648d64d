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
        var lineLength = Width * c;
        var outLineLength = OutputWidth * c;
        var argMax = _argMax.AsSpan();
        var output = Output.AsSpan();
        for (var b = 0; b < batchSize; b++)
        {
            for (var oy = 0; oy < OutputHeight; oy++)
            {
                var top = (b * InputSize) + (2 * oy * lineLength);
                var o = (b * OutputSize) + (oy * outLineLength);
                ReadOnlySpan<float> upper = input.AsSpan(top, lineLength);
                ReadOnlySpan<float> lower = input.AsSpan(top + lineLength, lineLength);
                for (var ox = 0; ox < OutputWidth; ox++)
                {
                    for (var ch = 0; ch < c; ch++, o++)
                    {
                        // Written as selects so the JIT can emit conditional moves: which corner wins depends on
                        // the data, so as branches these would mispredict often.
                        var left = (2 * ox * c) + ch;
                        float value = upper[left], candidate = upper[left + c];
                        var best = candidate > value ? left + c : left;
                        value = candidate > value ? candidate : value;
                        candidate = lower[left];
                        best = candidate > value ? left + lineLength : best;
                        value = candidate > value ? candidate : value;
                        candidate = lower[left + c];
                        best = candidate > value ? left + lineLength + c : best;
                        value = candidate > value ? candidate : value;

                        // The winner's position is kept so backward routes the gradient without comparing again.
                        output[o] = value;
                        argMax[o] = top + best;
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
}
