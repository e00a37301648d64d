using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>The <see cref="IOptimizerCheckpointer"/> for the library's optimizers.</summary>
public static class OptimizerCheckpointer
{
    /// <summary>File name of the optimizer checkpoint inside an epoch folder.</summary>
    public const string FileName = "optimizer.ckpt";

    /// <summary>Saves through <see cref="Checkpoint"/>, whose files carry the parameter values as well as the optimizer state.</summary>
    public static IOptimizerCheckpointer Default { get; } = new LibraryCheckpointer();

    private sealed class LibraryCheckpointer : IOptimizerCheckpointer
    {
        public void Save(IOptimizer optimizer, string folder) =>
            Checkpoint.Save(AsCheckpointable(optimizer), Path.Combine(folder, FileName));

        public void Load(IOptimizer optimizer, string folder)
        {
            var path = Path.Combine(folder, FileName);
            // Path.Exists, not File.Exists: a directory or FIFO in its place is refused by Checkpoint.Load as what it is.
            if (!Path.Exists(path))
            {
                throw new InvalidDataException($"The checkpoint file '{path}' is missing.");
            }

            Checkpoint.Load(AsCheckpointable(optimizer), path);
        }

        private static ICheckpointable AsCheckpointable(IOptimizer optimizer) => optimizer as ICheckpointable
            ?? throw new NotSupportedException(
                $"{optimizer.GetType().Name} cannot be checkpointed (it does not implement {nameof(ICheckpointable)}); " +
                "pass an IOptimizerCheckpointer for it or train without checkpoints.");
    }
}
