using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Synthetic;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>The models whose optimizer step is timed.</summary>
public enum BenchModel
{
    /// <summary>The 784-256-128-10 MLP with the gradients of one batch of 128 synthetic examples.</summary>
    Mlp,

    /// <summary>One 2048×4096 weight cut into eight 1024×1024 Shampoo blocks (MaxPreconditionerDim = 1024).</summary>
    /// <remarks>One blocked matrix rather than eight separate ones, so the blocking path (strided block views into one
    /// gradient) is part of what is timed, as it is for every large layer in practice.</remarks>
    Blocked8x1024,
}

/// <summary>Parameters with fixed, seeded values and gradients for one <see cref="BenchModel"/>.</summary>
internal sealed class ModelWorkload
{
    /// <summary>Largest block side, as in Distributed Shampoo's default.</summary>
    public const int MaxPreconditionerDim = 1024;

    private ModelWorkload(BenchModel model, IReadOnlyList<Parameter> parameters)
    {
        Model = model;
        Parameters = parameters;
    }

    public BenchModel Model { get; }

    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Builds the parameters; the MLP's gradients come from a real forward/backward pass (default BLAS backend).</summary>
    public static ModelWorkload Create(BenchModel model)
    {
        return model switch
        {
            BenchModel.Mlp => new ModelWorkload(model, SyntheticWorkload.MlpWithGradients()),
            BenchModel.Blocked8x1024 => new ModelWorkload(model, [SyntheticWorkload.Blocked8x1024()]),
            _ => throw new ArgumentOutOfRangeException(nameof(model), model, "Unknown model."),
        };
    }

    /// <summary>Options of a step that never refreshes after the first (roots computed at step 1, then kept).</summary>
    /// <remarks>fp32 statistics are pinned (the library's default is fp64): it is what Distributed Shampoo and the torch and
    /// Math.NET peers use, so the peer table compares like with like; the fp64 default is timed as an extra peer row.</remarks>
    public static ShampooOptions SteadyStateOptions { get; } = ShampooOptions.Shampoo with
    {
        FactorPrecision = FactorPrecision.Single,
        StartPreconditioningStep = 1,
        PreconditionFrequency = int.MaxValue,
        MaxPreconditionerDim = MaxPreconditionerDim,
    };

    /// <summary>Options of a step that refreshes every block's roots every time.</summary>
    public static ShampooOptions RefreshEveryStepOptions { get; } = ShampooOptions.Shampoo with
    {
        FactorPrecision = FactorPrecision.Single,
        StartPreconditioningStep = 1,
        PreconditionFrequency = 1,
        MaxPreconditionerDim = MaxPreconditionerDim,
        FullEigendecompositionEvery = int.MaxValue,
    };

    /// <summary>Every Shampoo block of the model's matrix parameters: (rows, cols).</summary>
    public static IReadOnlyList<(int Rows, int Cols)> Blocks(BenchModel model) => model switch
    {
        // fc1 256×784, fc2 128×256, fc3 10×128 (outputs × inputs); the biases get the diagonal preconditioner.
        BenchModel.Mlp => [(256, 784), (128, 256), (10, 128)],
        BenchModel.Blocked8x1024 => MatrixBlocking.Partition(2048, 4096, MaxPreconditionerDim).Select(b => (b.Rows, b.Cols)).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, "Unknown model."),
    };

    /// <summary>BLAS work of a step without refresh: statistics (2 syrk) and direction (2 gemm) per block.</summary>
    public static double SteadyStepFlops(BenchModel model) =>
        Blocks(model).Sum(b => Flops.Accumulate(b.Rows, b.Cols) + Flops.Precondition(b.Rows, b.Cols));

    /// <summary>BLAS/LAPACK work of the refresh alone: an inverse root of L and of R per block, full or warm-started.</summary>
    public static double RefreshFlops(BenchModel model, bool warmStart) => Blocks(model).Sum(b => warmStart
        ? Flops.InverseRootWarm(b.Rows) + Flops.InverseRootWarm(b.Cols)
        : Flops.InverseRootFull(b.Rows) + Flops.InverseRootFull(b.Cols));
}
