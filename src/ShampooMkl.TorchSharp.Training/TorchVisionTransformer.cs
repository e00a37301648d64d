using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>A small vision transformer for MNIST, as a TorchSharp module: 7×7 patches → 16 tokens of width 64, a learned
/// position embedding, 2 pre-norm transformer blocks with 4 attention heads, a final layer norm, mean pooling over the
/// tokens and a linear head; input (batch, 784), output logits (batch, 10).</summary>
/// <remarks>Mean pooling instead of a class token keeps every token a patch. Parameters, in <c>named_parameters()</c>
/// order: <c>position</c> (16×64, normal with σ = 0.02), <c>embed.weight</c> (64×49), <c>embed.bias</c>, then per block k
/// <c>blocks.k.norm1</c>, <c>blocks.k.qkv</c> (fused q/k/v, 192×64), <c>blocks.k.projection</c> (64×64), <c>blocks.k.norm2</c>,
/// <c>blocks.k.hidden</c> (128×64) and <c>blocks.k.output</c> (64×128) with GELU between the last two; <c>norm</c>,
/// <c>head.weight</c> (10×64), <c>head.bias</c>. Linear and layer-norm parameters use TorchSharp's default initialisation
/// from torch's global generator (seed it first, see <see cref="TorchModelFactory.Create"/>).</remarks>
public sealed class TorchVisionTransformer : Module<Tensor, Tensor>
{
    /// <summary>Image side in pixels.</summary>
    public const int Side = 28;

    /// <summary>Patch side in pixels.</summary>
    public const int PatchSide = 7;

    /// <summary>Tokens per image: (28 / 7)².</summary>
    public const int Tokens = (Side / PatchSide) * (Side / PatchSide);

    private readonly Linear embed;
    private readonly Parameter position;
    private readonly ModuleList<TransformerBlock> blocks;
    private readonly LayerNorm norm;
    private readonly Linear head;
    private readonly int width;

    /// <summary>Builds the model with fresh parameters drawn from torch's global generator.</summary>
    /// <param name="width">Token width; a multiple of <paramref name="heads"/> (default 64).</param>
    /// <param name="depth">Transformer blocks (default 2).</param>
    /// <param name="heads">Attention heads per block (default 4).</param>
    /// <param name="classes">Output classes (10 for MNIST).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1, fewer than 2 classes, or a width that the heads do not divide.</exception>
    public TorchVisionTransformer(int width = 64, int depth = 2, int heads = 4, int classes = 10)
        : base(nameof(TorchVisionTransformer))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        if (width % heads != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, $"The width must be a multiple of the {heads} heads.");
        }

        this.width = width;
        embed = Linear(PatchSide * PatchSide, width);
        using (torch.no_grad())
        {
            position = new Parameter(torch.randn(Tokens, width).mul_(0.02));
        }

        blocks = new ModuleList<TransformerBlock>([.. Enumerable.Range(0, depth).Select(_ => new TransformerBlock(width, heads, 2 * width))]);
        norm = LayerNorm(width);
        head = Linear(width, classes);
        RegisterComponents();
    }

    /// <summary>Logits (batch, classes) of flattened 28×28 images (batch, 784).</summary>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        const int grid = Side / PatchSide;
        // (b, gy, y, gx, x) → (b, gy, gx, y, x): each 7×7 patch becomes one row of 49 pixels, patches in reading order.
        using var grouped = input.view(-1, grid, PatchSide, grid, PatchSide);
        using var ordered = grouped.permute(0, 1, 3, 2, 4);
        using var patches = ordered.reshape(-1, Tokens, PatchSide * PatchSide);
        using var embedded = embed.forward(patches);
        var tokens = embedded.add(position);
        foreach (var block in blocks)
        {
            var next = block.forward(tokens);
            tokens.Dispose();
            tokens = next;
        }

        using (tokens)
        {
            using var normed = norm.forward(tokens);
            using var pooled = normed.mean([1]);
            return head.forward(pooled);
        }
    }

    /// <summary>Token width.</summary>
    public int Width => width;

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            embed.Dispose();
            position.Dispose();
            blocks.Dispose();
            norm.Dispose();
            head.Dispose();
        }

        base.Dispose(disposing);
    }
}
