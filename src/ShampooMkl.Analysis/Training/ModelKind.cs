namespace ShampooMkl.Analysis.Training;

/// <summary>The models the command line can train.</summary>
public enum ModelKind
{
    /// <summary>Multinomial logistic regression 784→10.</summary>
    Linear,

    /// <summary>MLP 784-256-128-10 with ReLU.</summary>
    Mlp,

    /// <summary>Two conv/ReLU/max-pool stages and a dense layer.</summary>
    Cnn,
}
