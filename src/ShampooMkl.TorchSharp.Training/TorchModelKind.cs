namespace ShampooMkl.TorchSharp.Training;

/// <summary>The TorchSharp models <c>shampoo-mkl train --framework torchsharp</c> can train.</summary>
public enum TorchModelKind
{
    /// <summary>MLP 784-256-128-10 with ReLU (<see cref="TorchMlp"/>).</summary>
    Mlp,

    /// <summary>Two conv/ReLU/max-pool stages and a dense layer (<see cref="TorchCnn"/>).</summary>
    Cnn,

    /// <summary>A small vision transformer on 7×7 patches (<see cref="TorchVisionTransformer"/>).</summary>
    Vit,
}
