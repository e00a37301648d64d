using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
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
            // fp32 files stay fp32: the library promotes chunk by chunk and accumulates in fp64, and fp32's range cannot
            // push a second-power sum out of fp64's. fp64 data far from 1 is rescaled in place (the array is ours).
            if (gradients.Single is { } single)
            {
                return Analyze(new GradientSample<float>(single, count, rows, cols, weights), gradients.DType, options, blas);
            }

            var values = gradients.Double!;
            var exponent = RescaleExponent(Math.Abs(TensorPrimitives.MaxMagnitude<double>(values)));
            if (exponent != 0)
            {
                ScaleByPowerOfTwo(values, -exponent);
            }

            return AnalyzeScaled(new GradientSample<double>(values, count, rows, cols, weights), gradients.DType, options, blas, exponent);
        }
        catch (ArgumentException e) when (e.ParamName is "weights" or "gradients")
        {
            // The library's message names the problem (NaN gradient, negative weight, …); say which file it is in.
            throw new InvalidDataException($"'{(e.ParamName == "weights" ? weightsPath : gradientsPath)}': {FirstSentence(e)}", e);
        }
    }

    /// <summary>Analyses a sample already in memory.</summary>
    /// <remarks>Scale-safe: when the largest |entry| is outside 2^±<see cref="SafeExponent"/>, the analysis runs on a copy
    /// multiplied by a power of two 2^−e (exact), so no sum over- or underflows; the cosines do not depend on the scale, and
    /// <see cref="GradientFileMetrics.HNorm"/> and <see cref="GradientFileMetrics.Trace"/> are scaled back by 4^e when fp64
    /// can hold them (otherwise they are those of the rescaled gradients and
    /// <see cref="GradientFileMetrics.ScaleExponent"/> is e).</remarks>
    /// <exception cref="InvalidDataException">Every gradient is zero.</exception>
    public static GradientFileMetrics Analyze<T>(GradientSample<T> sample, string dtype = "<f8", PowerIterationOptions? options = null, BlasBackend? blas = null)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(sample);
        var exponent = RescaleExponent(sample.MaxMagnitude);
        if (exponent == 0)
        {
            return AnalyzeScaled(sample, dtype, options, blas, 0);
        }

        // Scaled before the copy becomes a sample, so the sample's own scale (MaxMagnitude) is that of the copy.
        var values = new double[sample.Data.Length];
        if (typeof(T) == typeof(float))
        {
            TensorPrimitives.ConvertChecked(MemoryMarshal.Cast<T, float>(sample.Data), values);
        }
        else
        {
            MemoryMarshal.Cast<T, double>(sample.Data).CopyTo(values);
        }

        ScaleByPowerOfTwo(values, -exponent);
        var copy = new GradientSample<double>(values, sample.Count, sample.Rows, sample.Cols, sample.IsUniform ? default : sample.Weights);
        return AnalyzeScaled(copy, dtype, options, blas, exponent);
    }

    /// <summary>Binary exponent of the largest |entry| beyond which a sample is rescaled first: second powers of
    /// 2^±200 times any layer size stay far inside fp64's range (about 2^±1022) and far from its subnormals.</summary>
    public const int SafeExponent = 200;

    // 0 when the sample's scale is safe, else the binary exponent of its largest |entry|.
    private static int RescaleExponent(double maxMagnitude) =>
        maxMagnitude > 0 && Math.Abs(Math.ILogB(maxMagnitude)) > SafeExponent ? Math.ILogB(maxMagnitude) : 0;

    // x ← x·2^k exactly (in two steps when 2^k is not itself a normal double).
    private static void ScaleByPowerOfTwo(Span<double> x, int k)
    {
        var half = k / 2;
        TensorPrimitives.Multiply(x, Math.ScaleB(1.0, half), x);
        TensorPrimitives.Multiply(x, Math.ScaleB(1.0, k - half), x);
    }

    // The analysis of gradients already multiplied by 2^−exponent.
    private static GradientFileMetrics AnalyzeScaled<T>(GradientSample<T> sample, string dtype, PowerIterationOptions? options, BlasBackend? blas, int exponent)
        where T : unmanaged
    {
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
        // Back to the file's scale when fp64 holds both values there; otherwise report the rescaled ones and the exponent.
        var (reportedNorm, reportedTrace, reportedExponent) = (Math.ScaleB(hNorm, 2 * exponent), Math.ScaleB(statistics.Trace, 2 * exponent), 0);
        if (!double.IsNormal(reportedNorm) || !(double.IsNormal(reportedTrace) || statistics.Trace == 0))
        {
            (reportedNorm, reportedTrace, reportedExponent) = (hNorm, statistics.Trace, exponent);
        }

        return new GradientFileMetrics(
            sample.Count, sample.Rows, sample.Cols, dtype, !sample.IsUniform, reportedNorm, reportedTrace,
            optimal.Cosine(hNorm), squared, shampoo,
            optimal.Iterations, optimal.Converged, optimal.RelativeChange, optimal.RelativeResidual(hNorm), clock.Elapsed.TotalSeconds,
            reportedExponent);
    }

    private static string FirstSentence(ArgumentException e) => e.Message.Split(" (Parameter", 2)[0];
}
