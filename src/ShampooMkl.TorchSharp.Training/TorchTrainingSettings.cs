namespace ShampooMkl.TorchSharp.Training;

/// <summary>Everything that defines one TorchSharp MNIST training run, as <c>shampoo-mkl train --framework torchsharp</c>
/// gives it.</summary>
public sealed record TorchTrainingSettings
{
    /// <summary>The model to build.</summary>
    public TorchModelKind Model { get; init; } = TorchModelKind.Mlp;

    /// <summary>The optimizer preset.</summary>
    public TorchOptimizerKind Optimizer { get; init; } = TorchOptimizerKind.ShampooSquared;

    /// <summary>Epochs to complete (at least 1).</summary>
    public int Epochs { get; init; } = 3;

    /// <summary>Examples per step (at least 1).</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Base learning rate; null means the preset's tuned default (<see cref="TorchOptimizerPresets.DefaultLearningRate"/>).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Seed of the model initialisation (torch's generator) and of the data order.</summary>
    public int Seed { get; init; }

    /// <summary>libtorch's intra-op threads; null keeps libtorch's default (one per core).</summary>
    public int? Threads { get; init; }
}
