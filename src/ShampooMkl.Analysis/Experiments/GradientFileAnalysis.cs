using System.Diagnostics;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Kronecker;
using ShampooMkl.Linalg;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>The bridge to other frameworks: Kronecker metrics of per-example gradients stored as an N×m×n NumPy array.</summary>
/// <remarks>Gradients from a file have no known structure, so they go through the library's dense
/// <see cref="GradientSample{T}"/> path (not the rank-one one): any m×n gradients, convolution or attention included.</remarks>
public static class GradientFileAnalysis
{
    /// <summary>Reads the gradients (and optional weights) and analyses them.</summary>
    /// <param name="gradientsPath">An .npy file of shape (N, m, n), fp32 or fp64, C order.</param>
    /// <param name="weightsPath">An .npy file of shape (N,) with non-negative weights, or null for uniform.</param>
    /// <param name="options">Power-iteration options, or the library's defaults.</param>
    /// <param name="blas">Backend, or the default.</param>
    /// <exception cref="InvalidDataException">A file is not a valid .npy of the right shape, or a weight or gradient value is invalid.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static GradientFileMetrics Analyze(string gradientsPath, string? weightsPath, PowerIterationOptions? options = null, BlasBackend? blas = null)
    {
        var gradients = NpyReader.ReadStored(gradientsPath);
        if (gradients.Shape.Length != 3 || gradients.Shape.Any(d => d == 0))
        {
            throw new InvalidDataException(
                $"'{gradientsPath}' holds an array of shape {gradients.ShapeText}; per-example gradients must be a non-empty " +
                "3-D array of shape (N, m, n): N gradients of an m×n weight.");
        }

        int count = gradients.Shape[0], rows = gradients.Shape[1], cols = gradients.Shape[2];
        double[] weights = [];
        if (weightsPath is not null)
        {
            var array = NpyReader.ReadStored(weightsPath);
            if (array.Shape.Length != 1 || array.Shape[0] != count)
            {
                throw new InvalidDataException($"'{weightsPath}' holds an array of shape {array.ShapeText}; the weights must be a 1-D array of {count} values, one per gradient.");
            }

            weights = array.ToDouble();
        }

        try
        {
            // fp32 files stay fp32: the library promotes chunk by chunk and accumulates in fp64.
            return gradients.Single is { } single
                ? Analyze(new GradientSample<float>(single, count, rows, cols, weights), gradients.DType, options, blas)
                : Analyze(new GradientSample<double>(gradients.Double!, count, rows, cols, weights), gradients.DType, options, blas);
        }
        catch (ArgumentException e) when (e.ParamName is "weights" or "gradients")
        {
            // The library's message names the problem (NaN gradient, negative weight, …); say which file it is in.
            throw new InvalidDataException($"'{(e.ParamName == "weights" ? weightsPath : gradientsPath)}': {FirstSentence(e)}", e);
        }
    }

    /// <summary>Analyses a sample already in memory.</summary>
    public static GradientFileMetrics Analyze<T>(GradientSample<T> sample, string dtype = "<f8", PowerIterationOptions? options = null, BlasBackend? blas = null)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(sample);
        var clock = Stopwatch.StartNew();
        var hNorm = KroneckerSimilarity.ComputeHNorm(sample, blas);
        if (!(hNorm > 0))
        {
            throw new InvalidDataException("Every gradient is zero (‖H‖ = 0): there is nothing to approximate.");
        }

        var statistics = KroneckerApproximations.ComputeStatistics(sample, blas);
        var optimal = OptimalKroneckerApproximation.Compute(sample, options ?? new PowerIterationOptions { MaxIterations = 100, Tolerance = 1e-6 }, blas);
        var squared = KroneckerSimilarity.Cosine(sample, KroneckerApproximations.ShampooSquared(statistics), hNorm, blas);
        var shampoo = KroneckerSimilarity.Cosine(sample, KroneckerApproximations.Shampoo(statistics, blas), hNorm, blas);
        return new GradientFileMetrics(
            sample.Count, sample.Rows, sample.Cols, dtype, !sample.IsUniform, hNorm, statistics.Trace,
            optimal.Cosine(hNorm), squared, shampoo,
            optimal.Iterations, optimal.Converged, optimal.RelativeChange, optimal.RelativeResidual(hNorm), clock.Elapsed.TotalSeconds);
    }

    private static string FirstSentence(ArgumentException e) => e.Message.Split(" (Parameter", 2)[0];
}
