using ShampooMkl.Optim;

namespace ShampooMkl.Analysis.Training;

/// <summary>Saves and restores an optimizer's state inside a checkpoint folder that the <see cref="Trainer"/> owns.</summary>
public interface IOptimizerCheckpointer
{
    /// <summary>Writes the optimizer's complete state, including the parameter values, into <paramref name="folder"/> (which exists and is empty).</summary>
    void Save(IOptimizer optimizer, string folder);

    /// <summary>Replaces the optimizer's state and the parameter values with those saved in <paramref name="folder"/>.</summary>
    /// <exception cref="InvalidDataException">The saved state does not fit this optimizer or is damaged.</exception>
    void Load(IOptimizer optimizer, string folder);
}
