using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>Everything that defines one Hessian-approximation run: model, layer, data, training between measurements, measurement size.</summary>
public sealed record HessianTrackingSettings
{
    /// <summary>The model to train.</summary>
    public ModelKind Model { get; init; } = ModelKind.Mlp;

    /// <summary>The data set.</summary>
    public AnalysisDataset Dataset { get; init; } = AnalysisDataset.Mnist;

    /// <summary>The two digits of <see cref="AnalysisDataset.Mnist2"/>, relabelled 0 and 1 in this order.</summary>
    public (int First, int Second) BinaryDigits { get; init; } = (0, 1);

    /// <summary>Index of the analysed layer in the model's dense layers.</summary>
    public int Layer { get; init; }

    /// <summary>Optimizer steps to train in total.</summary>
    public int Steps { get; init; } = 300;

    /// <summary>Measure every this many steps (and at step 0 and at the end).</summary>
    public int Every { get; init; } = 100;

    /// <summary>N, the examples each measurement uses (a fixed subset of the training set).</summary>
    public int Examples { get; init; } = 1000;

    /// <summary>Training batch size, and B of the batch-gradient estimator.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>The optimizer between measurements.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>Learning rate; null means the preset's.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Seed of the initialisation, the data order, the measured subset and the sampled labels.</summary>
    public int Seed { get; init; }

    /// <summary>Cap on power-iteration passes per optimal-Kronecker computation.</summary>
    public int PowerIterations { get; init; } = 100;

    /// <summary>Power-iteration stopping tolerance on ‖ΔA‖ + ‖ΔB‖ of unit iterates. The optimum's cosine to its own H errs by
    /// about the square of this; cosines to another H (cross cells) err by about the tolerance itself, so 1e-5 keeps four digits.</summary>
    public double Tolerance { get; init; } = 1e-5;

    /// <summary>Number of classes of the data set.</summary>
    public int Classes => Dataset == AnalysisDataset.Mnist2 ? 2 : MnistDataset.ClassCount;

    /// <summary>Throws with a message naming the option when a value is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is below 1, the step count negative, or the tolerance negative.</exception>
    /// <exception cref="ArgumentException">The two digits of MNIST-2 are equal or not digits.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Steps, nameof(Steps));
        ArgumentOutOfRangeException.ThrowIfLessThan(Every, 1, nameof(Every));
        ArgumentOutOfRangeException.ThrowIfLessThan(Examples, 1, nameof(Examples));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegative(Layer, nameof(Layer));
        ArgumentOutOfRangeException.ThrowIfLessThan(PowerIterations, 1, nameof(PowerIterations));
        if (!(Tolerance >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "The tolerance must be non-negative.");
        }

        var (first, second) = BinaryDigits;
        if (first == second || first is < 0 or > 9 || second is < 0 or > 9)
        {
            throw new ArgumentException($"MNIST-2 needs two different digits 0–9, got {first} and {second}.", nameof(BinaryDigits));
        }
    }
}
