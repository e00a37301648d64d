namespace ShampooMkl.Cli.Commands;

/// <summary>Which framework <c>shampoo-mkl train</c> builds the model in.</summary>
internal enum TrainingFramework
{
    /// <summary>ShampooMkl's own models and training loop (<c>ShampooMkl.Analysis</c>).</summary>
    Core,

    /// <summary>TorchSharp modules and a TorchSharp training loop (<c>ShampooMkl.TorchSharp.Training</c>).</summary>
    TorchSharp,
}
