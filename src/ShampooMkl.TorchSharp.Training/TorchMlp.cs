using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>The MNIST MLP 784-256-128-10 with ReLU, as a TorchSharp module: input (batch, 784), output logits (batch, 10).</summary>
/// <remarks>Parameters are named <c>fc1.weight</c>, <c>fc1.bias</c>, …, <c>fc3.bias</c>, in that order, and initialised by
/// TorchSharp's <c>Linear</c> default (PyTorch's Kaiming-uniform) from torch's global generator: call
/// <see cref="torch.manual_seed"/> first (as <see cref="TorchModelFactory.Create"/> does) for a reproducible model.</remarks>
public sealed class TorchMlp : Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly Linear fc3;

    /// <summary>Builds the model with fresh parameters drawn from torch's global generator.</summary>
    /// <param name="inputFeatures">Features per example (784 for MNIST).</param>
    /// <param name="classes">Output classes (10 for MNIST).</param>
    public TorchMlp(int inputFeatures = 784, int classes = 10)
        : base(nameof(TorchMlp))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        fc1 = Linear(inputFeatures, 256);
        fc2 = Linear(256, 128);
        fc3 = Linear(128, classes);
        RegisterComponents();
    }

    /// <summary>Logits (batch, classes) of flattened inputs (batch, inputFeatures).</summary>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var h1 = functional.relu(fc1.forward(input));
        using var h2 = functional.relu(fc2.forward(h1));
        return fc3.forward(h2);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            fc1.Dispose();
            fc2.Dispose();
            fc3.Dispose();
        }

        base.Dispose(disposing);
    }
}
