namespace ShampooMkl.Analysis.Experiments;

/// <summary>cos(H, Ĥ) of one grid cell.</summary>
/// <param name="Hessian">adagrad or gn.</param>
/// <param name="Source">The source's short name (<see cref="EstimateSource.Name"/>).</param>
/// <param name="Approximation">optimal, shampoo2, shampoo or kfac.</param>
/// <param name="Cosine">⟨H, Ĥ⟩_F / (‖H‖_F ‖Ĥ‖_F).</param>
public sealed record CosineValue(string Hessian, string Source, string Approximation, double Cosine);
