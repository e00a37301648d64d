namespace ShampooMkl.Kronecker;

/// <summary>The weights of a gradient sample: relative, validated, divided by their sum (as <see cref="GradientSample{T}"/> uses them).</summary>
public static class SampleWeights
{
    /// <summary>Validates <paramref name="count"/> relative weights and divides them by their sum; empty means uniform 1/count.</summary>
    /// <remarks>Any finite non-negative weights work, 1e308 or subnormal ones included: they are divided by the largest before summing.</remarks>
    /// <exception cref="ArgumentException">Another number of weights, a negative or non-finite weight, or a zero sum.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    public static double[] Normalize(ReadOnlySpan<double> weights, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var result = new double[count];
        if (weights.IsEmpty)
        {
            Array.Fill(result, 1.0 / count);
            return result;
        }

        if (weights.Length != count)
        {
            throw new ArgumentException($"Expected {count} weights (one per gradient), got {weights.Length}.", nameof(weights));
        }

        var largest = 0.0;
        foreach (var w in weights)
        {
            if (!(w >= 0) || double.IsInfinity(w))
            {
                throw new ArgumentException($"Weights must be finite and non-negative; found {w}.", nameof(weights));
            }

            largest = Math.Max(largest, w);
        }

        if (!(largest > 0))
        {
            throw new ArgumentException("The weights sum to zero.", nameof(weights));
        }

        // Divided by the largest first, so the sum (at most count) cannot overflow, e.g. for weights of 1e308, and
        // subnormal weights keep their ratios.
        var sum = 0.0;
        for (var i = 0; i < count; i++)
        {
            result[i] = weights[i] / largest;
            sum += result[i];
        }

        for (var i = 0; i < count; i++)
        {
            result[i] /= sum;
        }

        return result;
    }
}
