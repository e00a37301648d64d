namespace ShampooMkl.Analysis.Experiments;

/// <summary>How the optimal-Kronecker power iteration of one source went.</summary>
/// <param name="Source">The source's short name.</param>
/// <param name="Iterations">Passes made.</param>
/// <param name="Converged">Whether the change reached the tolerance.</param>
/// <param name="Change">‖ΔA‖_F + ‖ΔB‖_F of the last pass (unit iterates).</param>
/// <param name="OwnCosine">cos(Ĥ_source, optimal) against the source's own sample: how Kronecker-like that sample is.</param>
public sealed record PowerIterationInfo(string Source, int Iterations, bool Converged, double Change, double OwnCosine);
