using System.Runtime.InteropServices;
using ShampooMkl.Optim;

namespace PackageQuickstart;

/// <summary>ŷ = w₂·tanh(W₁x + b₁) + b₂, with its own forward and backward pass for the mean squared error, over
/// <see cref="Parameter"/>s the optimizers update in place.</summary>
internal sealed class TwoLayerNet
{
    private readonly int inputs;
    private readonly int hidden;
    private readonly float[] preActivation;

    /// <summary>Weights drawn from N(0, 1/fan-in) with <paramref name="seed"/>, biases zero.</summary>
    public TwoLayerNet(int inputs, int hidden, int seed)
    {
        this.inputs = inputs;
        this.hidden = hidden;
        preActivation = new float[hidden];
        var random = new Random(seed);
        float[] Draw(int count, int fanIn) =>
            Enumerable.Range(0, count).Select(_ => (float)(ScaledRegression.Normal(random) / Math.Sqrt(fanIn))).ToArray();

        W1 = new Parameter("fc1.weight", Draw(hidden * inputs, inputs), hidden, inputs);
        B1 = new Parameter("fc1.bias", new float[hidden], hidden);
        W2 = new Parameter("fc2.weight", Draw(hidden, hidden), 1, hidden);
        B2 = new Parameter("fc2.bias", new float[1], 1);
    }

    public Parameter W1 { get; }

    public Parameter B1 { get; }

    public Parameter W2 { get; }

    public Parameter B2 { get; }

    public IReadOnlyList<Parameter> Weights => [W1, W2];

    public IReadOnlyList<Parameter> Biases => [B1, B2];

    public IEnumerable<Parameter> All => Weights.Concat(Biases);

    /// <summary>The mean squared error over <paramref name="data"/>; writes its gradient into every parameter's gradient.</summary>
    public double LossAndGradient(ScaledRegression data)
    {
        float[] w1 = W1.Value, b1 = B1.Value, w2 = W2.Value, b2 = B2.Value;
        float[] gw1 = W1.Gradient, gb1 = B1.Gradient, gw2 = W2.Gradient, gb2 = B2.Gradient;
        foreach (var p in All)
        {
            Array.Clear(p.Gradient);
        }

        double loss = 0;
        var n = data.Samples;
        for (var s = 0; s < n; s++)
        {
            var x = data.Inputs.AsSpan(s * inputs, inputs);
            var y = (double)b2[0];
            for (var k = 0; k < hidden; k++)
            {
                double a = b1[k];
                for (var j = 0; j < inputs; j++)
                {
                    a += w1[k * inputs + j] * x[j];
                }

                preActivation[k] = (float)Math.Tanh(a);
                y += w2[k] * preActivation[k];
            }

            var error = y - data.Targets[s];
            loss += error * error;
            var dy = (float)(2 * error / n);
            gb2[0] += dy;
            for (var k = 0; k < hidden; k++)
            {
                var h = preActivation[k];
                gw2[k] += dy * h;
                var dh = dy * w2[k] * (1 - h * h);
                gb1[k] += dh;
                for (var j = 0; j < inputs; j++)
                {
                    gw1[k * inputs + j] += dh * x[j];
                }
            }
        }

        return loss / n;
    }

    /// <summary>True when every parameter's values equal <paramref name="other"/>'s bit for bit.</summary>
    public bool BitEquals(TwoLayerNet other) =>
        All.Zip(other.All).All(pair =>
            MemoryMarshal.AsBytes(pair.First.Value.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(pair.Second.Value.AsSpan())));
}
