using System.Diagnostics;
using ShampooMkl.Kronecker;
using ShampooMkl.Linalg;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>Computes every cell of <see cref="HessianGrid"/> from one set of <see cref="HessianEstimates"/>.</summary>
/// <remarks>
/// Every sample goes through <see cref="FactoredKronecker"/> (rank-one factors plus a few dense mini-batch gradients,
/// so the cost grows with N·(m² + n²), not N·m·n·(m + n)). Every approximation is built once per source
/// and evaluated against each H it is compared with; H itself is never formed.
/// </remarks>
public static class HessianExperiment
{
    /// <summary>Measures the whole grid.</summary>
    /// <param name="estimates">The layer's gradient factors at the current weights.</param>
    /// <param name="batchSize">B of the batch-gradient sources.</param>
    /// <param name="powerIteration">Options of every optimal-Kronecker computation.</param>
    /// <param name="step">Recorded in the result.</param>
    /// <param name="blas">Backend, or the default.</param>
    public static HessianMeasurement Measure(HessianEstimates estimates, int batchSize, PowerIterationOptions powerIteration, int step = 0, BlasBackend? blas = null)
    {
        ArgumentNullException.ThrowIfNull(estimates);
        ArgumentNullException.ThrowIfNull(powerIteration);
        var clock = Stopwatch.StartNew();
        var approximations = new Dictionary<EstimateSource, Dictionary<ApproximationKind, KroneckerPair>>();
        var iterations = new List<PowerIterationInfo>();

        // An H's own sample is also a source; its ‖H‖ (for H_GN the largest single cost) is computed once.
        var norms = new Dictionary<FactoredGradientSample, double>(ReferenceEqualityComparer.Instance);
        double NormOf(FactoredGradientSample sample) =>
            norms.TryGetValue(sample, out var known) ? known : norms[sample] = FactoredKronecker.HNorm(sample, blas);
        foreach (var source in HessianGrid.Sources)
        {
            try
            {
                var (pairs, info) = Approximate(estimates, source, batchSize, powerIteration, NormOf, blas);
                approximations[source] = pairs;
                iterations.Add(info);
            }
            catch (InvalidOperationException)
            {
                // Every gradient of this source is zero (e.g. float32 softmax saturated at exactly 1): it has no
                // Kronecker direction. Its cells become NaN instead of ending a long run.
                approximations[source] = [];
                iterations.Add(new PowerIterationInfo(source.Name, 0, false, double.NaN, double.NaN));
            }
        }

        var cosines = new List<CosineValue>(HessianGrid.Cells.Count);
        var targetNorms = new Dictionary<HessianKind, double>();
        foreach (var hessian in Enum.GetValues<HessianKind>())
        {
            var target = estimates.PerExample(HessianGrid.TargetOf(hessian).Labels);
            var hNorm = NormOf(target);
            targetNorms[hessian] = hNorm;
            foreach (var cell in HessianGrid.Cells.Where(c => c.Hessian == hessian))
            {
                var cosine = hNorm > 0 && approximations[cell.Source].TryGetValue(cell.Approximation, out var pair)
                    ? FactoredKronecker.Cosine(target, pair, hNorm, blas)
                    : double.NaN;
                cosines.Add(new CosineValue(HessianGrid.Name(hessian), cell.Source.Name, HessianGrid.Name(cell.Approximation), cosine));
            }
        }

        return new HessianMeasurement(step, MeanLoss(estimates), clock.Elapsed.TotalSeconds, targetNorms[HessianKind.Adagrad], targetNorms[HessianKind.GaussNewton], cosines, iterations);
    }

    private static (Dictionary<ApproximationKind, KroneckerPair> Pairs, PowerIterationInfo Info) Approximate(
        HessianEstimates estimates, EstimateSource source, int batchSize, PowerIterationOptions options, Func<FactoredGradientSample, double> normOf, BlasBackend? blas)
    {
        var sample = source.Gradients switch
        {
            GradientKind.Batch => estimates.Batched(source.Labels, batchSize, blas),
            GradientKind.ExpectedBatch => estimates.ExpectedBatched(source.Labels, batchSize, blas),
            _ => estimates.PerExample(source.Labels),
        };
        var statistics = FactoredKronecker.Statistics(sample, blas);
        var optimal = FactoredKronecker.Optimal(sample, options, blas);
        var ownNorm = normOf(sample);
        var pairs = new Dictionary<ApproximationKind, KroneckerPair>();
        if (source.Gradients == GradientKind.PerExample)
        {
            pairs[ApproximationKind.KFac] = estimates.KFac(source.Labels, blas);
        }

        // The unit pair: cosines are scale-free, and σ may round to ≤ 0 for an H the start pair barely sees.
        pairs[ApproximationKind.Optimal] = optimal.Unit;
        pairs[ApproximationKind.ShampooSquared] = KroneckerApproximations.ShampooSquared(statistics);
        pairs[ApproximationKind.Shampoo] = KroneckerApproximations.Shampoo(statistics, blas);
        var info = new PowerIterationInfo(source.Name, optimal.Iterations, optimal.Converged, optimal.RelativeChange, optimal.Cosine(ownNorm));
        return (pairs, info);
    }

    // −(1/N) Σ log pᵢ[yᵢ] from the probabilities the estimates already hold; clamped so a confident mistake stays finite.
    private static double MeanLoss(HessianEstimates estimates)
    {
        var total = 0.0;
        for (var i = 0; i < estimates.Count; i++)
        {
            total -= Math.Log(Math.Max(estimates.Probabilities[(i * estimates.Classes) + estimates.Labels[i]], 1e-30f));
        }

        return total / estimates.Count;
    }
}
