using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>A read-only view of N per-example gradients G₁…G_N (each m×n, row-major, stored back to back) with probability weights.</summary>
/// <remarks>
/// <para>It stands for the matrix H = Σᵢ wᵢ gᵢ gᵢᵀ (gᵢ = vec(Gᵢ), row-major vec as in docs/design.md, 'Conventions') without ever forming it:
/// uniform weights give the Adagrad covariance / empirical Fisher, and per-(example, class) weights p(ŷ|x)/N give
/// the exact class-weighted Fisher. Weights are relative: they are divided by their sum, because they mean
/// probabilities and a sum off by rounding should not bias every metric.
/// The sample does not copy the gradients (a full MLP layer's sample is gigabytes): the caller keeps the memory
/// alive and unchanged while the sample is in use. fp32 storage halves that memory; every consumer promotes to fp64
/// chunk by chunk before accumulating.</para>
/// <para>As an <see cref="IKroneckerSample"/> it is safe to use from several threads at once: every run of
/// <see cref="OptimalKroneckerApproximation.Compute(IKroneckerSample, PowerIterationOptions?, BlasBackend?)"/> builds
/// its own chunk buffers once and reuses them for every pass, and a direct call of the interface's members builds
/// (and frees) buffers for that call only, so the sample never holds tens of MB of scratch between runs.</para>
/// </remarks>
public sealed class GradientSample<T> : IKroneckerSample, IKroneckerOperatorSource where T : unmanaged
{
    private readonly ReadOnlyMemory<T> gradients;
    private readonly double[] weights;

    /// <summary>Wraps <paramref name="gradients"/> (count·rows·cols elements: Gᵢ starts at i·rows·cols).</summary>
    /// <param name="gradients">The stacked gradients; not copied.</param>
    /// <param name="count">N ≥ 1.</param>
    /// <param name="rows">m ≥ 1.</param>
    /// <param name="cols">n ≥ 1.</param>
    /// <param name="weights">N non-negative relative weights with a positive sum, or empty for uniform 1/N.</param>
    /// <exception cref="ArgumentException">Sizes disagree, a weight is negative or non-finite, the weights sum to zero,
    /// or a gradient element is NaN or infinite.</exception>
    public GradientSample(ReadOnlyMemory<T> gradients, int count, int rows, int cols, ReadOnlySpan<double> weights = default)
    {
        BlasGuard.EnsureSupported<T>();
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        var expected = (long)count * rows * cols;
        if (gradients.Length != expected)
        {
            throw new ArgumentException($"{count} gradients of {rows}×{cols} need {expected} elements; got {gradients.Length}.", nameof(gradients));
        }

        // NaN would silently poison every Gram entry and factor; one vectorised pass is cheap next to any consumer.
        if (!AllFinite(gradients.Span))
        {
            throw new ArgumentException("The gradients contain NaN or infinite values.", nameof(gradients));
        }

        this.gradients = gradients;
        // MaxMagnitude returns the entry (sign included) of largest magnitude.
        MaxMagnitude = Math.Abs(typeof(T) == typeof(float)
            ? TensorPrimitives.MaxMagnitude(MemoryMarshal.Cast<T, float>(gradients.Span))
            : TensorPrimitives.MaxMagnitude(MemoryMarshal.Cast<T, double>(gradients.Span)));
        Count = count;
        Rows = rows;
        Cols = cols;
        this.weights = SampleWeights.Normalize(weights, count);
        IsUniform = weights.IsEmpty;
    }

    /// <summary>N, the number of gradients.</summary>
    public int Count { get; }

    /// <summary>m, rows of each gradient.</summary>
    public int Rows { get; }

    /// <summary>n, columns of each gradient.</summary>
    public int Cols { get; }

    /// <summary>m·n, the length of each vec(Gᵢ).</summary>
    public int GradientLength => Rows * Cols;

    /// <summary>max |entry| over all gradients (0 when every gradient is zero): the scale consumers divide out (by its
    /// power of two) before sums whose powers could leave the fp64 range.</summary>
    public double MaxMagnitude { get; }

    /// <summary>True when no weights were given (all 1/N).</summary>
    public bool IsUniform { get; }

    /// <summary>The normalised weights wᵢ (sum 1).</summary>
    public ReadOnlySpan<double> Weights => weights;

    /// <summary>All N·m·n elements.</summary>
    public ReadOnlySpan<T> Data => gradients.Span;

    /// <summary>The stacked gradients as memory, for callers that need to hold on to them.</summary>
    public ReadOnlyMemory<T> Memory => gradients;

    /// <summary>Gᵢ as an m×n view.</summary>
    public ReadOnlyMatrixView<T> Gradient(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return new ReadOnlyMatrixView<T>(Data.Slice(index * GradientLength, GradientLength), Rows, Cols);
    }

    /// <summary>A copy in fp32 (half the memory) with the same weights.</summary>
    public GradientSample<float> ToSingle()
    {
        var copy = new float[Data.Length];
        if (typeof(T) == typeof(float))
        {
            MemoryMarshal.Cast<T, float>(Data).CopyTo(copy);
        }
        else
        {
            TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<T, double>(Data), copy);
        }

        return new GradientSample<float>(copy, Count, Rows, Cols, IsUniform ? default : weights);
    }

    /// <summary>A copy in fp64 with the same weights.</summary>
    public GradientSample<double> ToDouble()
    {
        var copy = new double[Data.Length];
        if (typeof(T) == typeof(double))
        {
            MemoryMarshal.Cast<T, double>(Data).CopyTo(copy);
        }
        else
        {
            TensorPrimitives.ConvertChecked(MemoryMarshal.Cast<T, float>(Data), copy);
        }

        return new GradientSample<double>(copy, Count, Rows, Cols, IsUniform ? default : weights);
    }

    /// <inheritdoc />
    /// <remarks>Builds chunk buffers for this call alone; a loop of passes should go through
    /// <see cref="OptimalKroneckerApproximation.Compute(IKroneckerSample, PowerIterationOptions?, BlasBackend?)"/>,
    /// which builds them once per run.</remarks>
    void IKroneckerSample.Apply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> nextA, Span<double> nextB, BlasBackend? blas)
    {
        using var op = new RearrangementOperator<T>(this);
        op.Apply(a, b, nextA, nextB, blas);
    }

    /// <inheritdoc />
    /// <remarks>Builds chunk buffers for this call alone, as <see cref="IKroneckerSample.Apply"/> does.</remarks>
    double IKroneckerSample.InnerProduct(ReadOnlySpan<double> a, ReadOnlySpan<double> b, BlasBackend? blas)
    {
        using var op = new RearrangementOperator<T>(this);
        return op.InnerProduct(a, b, blas);
    }

    /// <inheritdoc />
    IKroneckerOperator IKroneckerOperatorSource.CreateOperator() => new RearrangementOperator<T>(this);

    private static bool AllFinite(ReadOnlySpan<T> data) => typeof(T) == typeof(float)
        ? FiniteCheck.All(MemoryMarshal.Cast<T, float>(data))
        : FiniteCheck.All(MemoryMarshal.Cast<T, double>(data));
}
