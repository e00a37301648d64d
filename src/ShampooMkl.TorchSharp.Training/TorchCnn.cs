using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>conv 5×5 (1→8) → ReLU → 2×2 max-pool → conv 5×5 (8→16) → ReLU → 2×2 max-pool → dense 256→10, as a TorchSharp
/// module: the same architecture as the core <c>ShampooMkl.Analysis.Models.SmallCnn</c>.</summary>
/// <remarks>Input is flattened 28×28 images (batch, 784), reshaped to (batch, 1, 28, 28); convolutions are unpadded
/// (24×24, pooled 12×12, then 8×8, pooled 4×4). Unlike the core model, activations are channels-first (PyTorch's NCHW), so
/// the dense layer reads the pooled features in (channel, y, x) order. Conv weights are (out, in, kh, kw); parameters are
/// <c>conv1.weight</c>, <c>conv1.bias</c>, <c>conv2.weight</c>, <c>conv2.bias</c>, <c>fc.weight</c>, <c>fc.bias</c>,
/// initialised by TorchSharp's defaults from torch's global generator (seed it first, see <see cref="TorchModelFactory.Create"/>).</remarks>
public sealed class TorchCnn : Module<Tensor, Tensor>
{
    private const int Side = 28;
    private const int Kernel = 5;
    private const int Channels1 = 8;
    private const int Channels2 = 16;

    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Linear fc;

    /// <summary>Builds the model with fresh parameters drawn from torch's global generator.</summary>
    /// <param name="classes">Output classes (10 for MNIST).</param>
    public TorchCnn(int classes = 10)
        : base(nameof(TorchCnn))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        conv1 = Conv2d(1, Channels1, Kernel);
        conv2 = Conv2d(Channels1, Channels2, Kernel);
        const int pooled = (((Side - Kernel + 1) / 2) - Kernel + 1) / 2;
        fc = Linear(Channels2 * pooled * pooled, classes);
        RegisterComponents();
    }

    /// <summary>Logits (batch, classes) of flattened 28×28 images (batch, 784).</summary>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var images = input.view(-1, 1, Side, Side);
        using var c1 = conv1.forward(images);
        using var r1 = functional.relu(c1);
        using var p1 = functional.max_pool2d(r1, 2);
        using var c2 = conv2.forward(p1);
        using var r2 = functional.relu(c2);
        using var p2 = functional.max_pool2d(r2, 2);
        using var flat = p2.flatten(1);
        return fc.forward(flat);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            conv1.Dispose();
            conv2.Dispose();
            fc.Dispose();
        }

        base.Dispose(disposing);
    }
}
