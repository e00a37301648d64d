namespace ShampooMkl.Optim;

/// <summary>An optimizer of this library whose calls are guarded by one <see cref="ExclusiveUse"/>, so that
/// <see cref="Checkpoint"/> can hold it across a whole save or load.</summary>
internal interface IExclusiveOptimizer
{
    /// <summary>The guard every state-touching call of the optimizer takes.</summary>
    ExclusiveUse Exclusive { get; }
}
