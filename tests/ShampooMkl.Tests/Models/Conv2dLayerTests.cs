using ShampooMkl.Analysis.Models;

namespace ShampooMkl.Tests.Models;

/// <summary>The im2col + gemm convolution and its backward pass against direct loops over the definition.</summary>
/// <remarks>The loops sum in double; the layer sums k·k·C fp32 products (≤ 27 here) inside gemm, so a tolerance of
/// 1e-5 times the sum of absolute terms bounds its rounding with room to spare.</remarks>
public sealed class Conv2dLayerTests
{
    [Theory]
    [InlineData(7, 6, 3, 4, 3, 0)]
    [InlineData(7, 6, 3, 4, 3, 1)]
    [InlineData(9, 9, 1, 2, 5, 2)]
    [InlineData(28, 28, 1, 8, 5, 0)]
    public void ForwardAndBackward_MatchDirectConvolution(int height, int width, int inChannels, int outChannels, int kernel, int padding)
    {
        const int batch = 2;
        var layer = new Conv2dLayer("conv", height, width, inChannels, outChannels, kernel, padding, batch, new Random(1));
        var bias = ModelTestData.Inputs(1, outChannels, seed: 2);
        bias.CopyTo(layer.Bias.Value, 0);
        var input = ModelTestData.Inputs(batch, layer.InputSize, seed: 3);
        var outputGradient = ModelTestData.Inputs(batch, layer.OutputSize, seed: 4);
        var w = layer.Weight.Value;
        int ho = layer.OutputHeight, wo = layer.OutputWidth;

        layer.Forward(input, batch);
        layer.Backward(outputGradient, batch, computeInputGradient: true);

        // Channels-last: x[b, y, x, c] = input[((b·H + y)·W + x)·C + c]; weight [o, c, ky, kx].
        double X(int b, int y, int x, int c) =>
            (uint)y < (uint)height && (uint)x < (uint)width ? input[(((((b * height) + y) * width) + x) * inChannels) + c] : 0.0;
        double W(int o, int c, int ky, int kx) => w[(((((o * inChannels) + c) * kernel) + ky) * kernel) + kx];
        int Out(int b, int y, int x, int o) => (((((b * ho) + y) * wo) + x) * outChannels) + o;

        var dx = new double[input.Length];
        var dxScale = new double[input.Length];
        var dw = new double[w.Length];
        var dwScale = new double[w.Length];
        var db = new double[outChannels];
        for (var b = 0; b < batch; b++)
        {
            for (var oy = 0; oy < ho; oy++)
            {
                for (var ox = 0; ox < wo; ox++)
                {
                    for (var o = 0; o < outChannels; o++)
                    {
                        double sum = bias[o], magnitude = Math.Abs(bias[o]);
                        var g = (double)outputGradient[Out(b, oy, ox, o)];
                        db[o] += g;
                        for (var c = 0; c < inChannels; c++)
                        {
                            for (var ky = 0; ky < kernel; ky++)
                            {
                                for (var kx = 0; kx < kernel; kx++)
                                {
                                    int iy = oy + ky - padding, ix = ox + kx - padding;
                                    var term = W(o, c, ky, kx) * X(b, iy, ix, c);
                                    sum += term;
                                    magnitude += Math.Abs(term);
                                    var wi = (((((o * inChannels) + c) * kernel) + ky) * kernel) + kx;
                                    dw[wi] += g * X(b, iy, ix, c);
                                    dwScale[wi] += Math.Abs(g * X(b, iy, ix, c));
                                    if ((uint)iy < (uint)height && (uint)ix < (uint)width)
                                    {
                                        var xi = (((((b * height) + iy) * width) + ix) * inChannels) + c;
                                        dx[xi] += g * W(o, c, ky, kx);
                                        dxScale[xi] += Math.Abs(g * W(o, c, ky, kx));
                                    }
                                }
                            }
                        }

                        Assert.True(Math.Abs(sum - layer.Output[Out(b, oy, ox, o)]) <= (1e-5 * magnitude) + 1e-7, $"output ({b},{oy},{ox},{o})");
                    }
                }
            }
        }

        for (var i = 0; i < w.Length; i++)
        {
            Assert.True(Math.Abs(dw[i] - layer.Weight.Gradient[i]) <= (1e-5 * dwScale[i]) + 1e-7, $"weight gradient {i}");
        }

        for (var o = 0; o < outChannels; o++)
        {
            Assert.Equal(db[o], layer.Bias.Gradient[o], 1e-5 * batch * ho * wo);
        }

        for (var i = 0; i < input.Length; i++)
        {
            Assert.True(Math.Abs(dx[i] - layer.InputGradient[i]) <= (1e-5 * dxScale[i]) + 1e-7, $"input gradient {i}");
        }
    }

    [Fact]
    public void Constructor_RejectsKernelLargerThanPaddedImage()
    {
        Assert.Throws<ArgumentException>(() => new Conv2dLayer("conv", 4, 4, 1, 1, 7, 1, 1, new Random(0)));
    }

    [Fact]
    public void MaxPool_RoutesGradientToTheWinner()
    {
        // One 4×4 single-channel image → 2×2; each window's maximum is at a different corner.
        var pool = new MaxPool2dLayer("pool", 4, 4, 1, 1);
        float[] image =
        [
            9, 1, 2, 3,
            0, 1, 4, 1,
            1, 2, 1, 0,
            3, 1, 0, 8,
        ];
        pool.Forward(image, 1);
        Assert.Equal([9f, 4f, 3f, 8f], pool.Output);

        pool.Backward([1f, 2f, 3f, 4f], 1, computeInputGradient: true);
        Assert.Equal([1f, 0, 0, 0, 0, 0, 2f, 0, 0, 0, 0, 0, 3f, 0, 0, 4f], pool.InputGradient);
    }
}
