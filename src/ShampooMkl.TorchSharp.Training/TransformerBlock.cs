using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>One pre-norm transformer block: x + attention(norm1(x)), then + mlp(norm2(·)) with a GELU hidden layer.</summary>
/// <remarks>Input and output are (batch, tokens, width). The attention is written out (fused q/k/v projection, scaled
/// dot products, softmax, output projection) so that every weight is an ordinary 2-D matrix for the optimizer.</remarks>
internal sealed class TransformerBlock : Module<Tensor, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly Linear qkv;
    private readonly Linear projection;
    private readonly LayerNorm norm2;
    private readonly Linear hidden;
    private readonly Linear output;
    private readonly int heads;
    private readonly int width;

    /// <summary>Builds the block; <paramref name="width"/> must be a multiple of <paramref name="heads"/>.</summary>
    public TransformerBlock(int width, int heads, int hiddenWidth)
        : base(nameof(TransformerBlock))
    {
        this.width = width;
        this.heads = heads;
        norm1 = LayerNorm(width);
        qkv = Linear(width, 3 * width);
        projection = Linear(width, width);
        norm2 = LayerNorm(width);
        hidden = Linear(width, hiddenWidth);
        output = Linear(hiddenWidth, width);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var batch = input.shape[0];
        var tokens = input.shape[1];
        var headWidth = width / heads;
        using var n1 = norm1.forward(input);
        using var fused = qkv.forward(n1);
        // (b, t, 3, h, d) → (3, b, h, t, d)
        using var split = fused.view(batch, tokens, 3, heads, headWidth);
        using var perHead = split.permute(2, 0, 3, 1, 4);
        using var q = perHead[0];
        using var k = perHead[1];
        using var v = perHead[2];
        using var kt = k.transpose(-2, -1);
        using var scores = torch.matmul(q, kt);
        using var scaled = scores.mul(1.0 / Math.Sqrt(headWidth));
        using var weights = functional.softmax(scaled, -1);
        using var mixed = torch.matmul(weights, v);
        using var joined = mixed.transpose(1, 2);
        using var merged = joined.reshape(batch, tokens, width);
        using var attended = projection.forward(merged);
        using var residual = input.add(attended);
        using var n2 = norm2.forward(residual);
        using var h = hidden.forward(n2);
        using var g = functional.gelu(h);
        using var o = output.forward(g);
        return residual.add(o);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            norm1.Dispose();
            qkv.Dispose();
            projection.Dispose();
            norm2.Dispose();
            hidden.Dispose();
            output.Dispose();
        }

        base.Dispose(disposing);
    }
}
