namespace ShampooMkl.Analysis.Experiments;

/// <summary>All cosines of the grid at one point of training.</summary>
/// <param name="Step">Optimizer steps taken before the measurement.</param>
/// <param name="Loss">Mean cross-entropy on the measured examples.</param>
/// <param name="Seconds">Wall time of the measurement (gradients, approximations, cosines).</param>
/// <param name="AdagradHNorm">‖H_Ada‖_F.</param>
/// <param name="GaussNewtonHNorm">‖H_GN‖_F.</param>
/// <param name="Cosines">One value per <see cref="HessianGrid.Cells"/>, in that order.</param>
/// <param name="PowerIterations">One entry per <see cref="HessianGrid.Sources"/>.</param>
public sealed record HessianMeasurement(
    int Step, double Loss, double Seconds, double AdagradHNorm, double GaussNewtonHNorm,
    IReadOnlyList<CosineValue> Cosines, IReadOnlyList<PowerIterationInfo> PowerIterations)
{
    /// <summary>The cosine of one cell; NaN if it was not measured.</summary>
    public double Cosine(HessianCell cell) =>
        Cosines.FirstOrDefault(c => c.Hessian == HessianGrid.Name(cell.Hessian) && c.Source == cell.Source.Name
            && c.Approximation == HessianGrid.Name(cell.Approximation))?.Cosine ?? double.NaN;
}
