using System.Numerics.Tensors;
using ShampooMkl.Kronecker;
using ShampooMkl.Linalg;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>Weighted gradients standing for H = Σ wₖ gₖgₖᵀ: rank-one ones kept as factors Gₖ = δₖ a_{e(k)}ᵀ, plus optionally a few dense ones.</summary>
/// <remarks>
/// A dense layer's per-example weight gradient is always the outer product of its output gradient δ (m) and its input
/// a (n). Stored densely, N = 2,000 gradients of the 256×784 MLP layer take 1.6 GB (fp32) and every metric costs
/// O(N·m·n·(m+n)); stored as factors they take N·(m+n) values and the same metrics cost O(N·(m² + n²)), a factor of about mn/(m+n) less
/// work (see <see cref="FactoredKronecker"/>).
/// Several gradients may share one input row: the exact Gauss–Newton sample has one gradient per (example, class)
/// and all classes of an example share its a. <see cref="ExampleOf(int)"/> maps gradient k to its input row e(k).
/// The dense gradients (m×n each) carry what is not rank one: mini-batch sums, or the mean gradient of the
/// expected-batch estimator. Weights follow <see cref="GradientSample{T}"/> — relative, divided by their sum — and
/// cover the rank-one gradients first, then the dense ones.
/// </remarks>
public sealed class FactoredGradientSample : IKroneckerSample
{
    private readonly double[] deltas;
    private readonly double[] inputs;
    private readonly int[]? exampleOf;
    private readonly double[] dense;
    private readonly double[] weights;
    private FactoredKronecker.Workspace? workspace;

    /// <summary>Wraps the factors and dense gradients (not copied; keep them unchanged while the sample is in use).</summary>
    /// <param name="deltas">count×m, row k is δₖ.</param>
    /// <param name="count">Number of rank-one gradients K ≥ 0.</param>
    /// <param name="rows">m ≥ 1, the layer's outputs.</param>
    /// <param name="inputs">examples×n, row e is the layer input a_e.</param>
    /// <param name="examples">Number of input rows E (≥ 1 when K ≥ 1).</param>
    /// <param name="cols">n ≥ 1, the layer's inputs.</param>
    /// <param name="exampleOf">e(k) for every rank-one gradient, or null when gradient k uses input row k (then K = E).</param>
    /// <param name="weights">K + D non-negative relative weights (rank-one gradients first), or empty for uniform.</param>
    /// <param name="dense">D dense m×n gradients stored back to back, or null for none.</param>
    /// <exception cref="ArgumentException">Sizes disagree, there is no gradient at all, an index is out of range, a value is not finite, or a weight is invalid.</exception>
    public FactoredGradientSample(double[] deltas, int count, int rows, double[] inputs, int examples, int cols,
        int[]? exampleOf = null, ReadOnlySpan<double> weights = default, double[]? dense = null)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        dense ??= [];
        var size = (long)rows * cols;
        if (dense.Length % size != 0)
        {
            throw new ArgumentException($"Dense gradients of {rows}×{cols} need a multiple of {size} values; got {dense.Length}.", nameof(dense));
        }

        var denseCount = (int)(dense.Length / size);
        if (count + denseCount < 1)
        {
            throw new ArgumentException("The sample holds no gradient.", nameof(count));
        }

        if (deltas.Length != (long)count * rows)
        {
            throw new ArgumentException($"{count} output gradients of length {rows} need {(long)count * rows} values; got {deltas.Length}.", nameof(deltas));
        }

        if (inputs.Length != (long)examples * cols || (count > 0 && examples < 1))
        {
            throw new ArgumentException($"{examples} inputs of length {cols} need {(long)examples * cols} values (and at least one row for rank-one gradients); got {inputs.Length}.", nameof(inputs));
        }

        if (exampleOf is null)
        {
            if (count > 0 && count != examples)
            {
                throw new ArgumentException($"Without an example map every gradient needs its own input row: {count} gradients, {examples} inputs.", nameof(exampleOf));
            }
        }
        else
        {
            if (exampleOf.Length != count)
            {
                throw new ArgumentException($"The example map needs one entry per rank-one gradient ({count}); got {exampleOf.Length}.", nameof(exampleOf));
            }

            foreach (var e in exampleOf)
            {
                if ((uint)e >= (uint)examples)
                {
                    throw new ArgumentException($"Example index {e} is outside 0…{examples - 1}.", nameof(exampleOf));
                }
            }
        }

        // Same reason as GradientSample: a NaN would silently poison every Gram entry and factor.
        if (!FiniteCheck.All<double>(deltas) || !FiniteCheck.All<double>(inputs) || !FiniteCheck.All<double>(dense))
        {
            throw new ArgumentException("The gradients contain NaN or infinite values.");
        }

        this.deltas = deltas;
        this.inputs = inputs;
        this.exampleOf = exampleOf;
        this.dense = dense;
        this.weights = SampleWeights.Normalize(weights, count + denseCount);
        Count = count;
        DenseCount = denseCount;
        Rows = rows;
        Examples = examples;
        Cols = cols;
    }

    /// <summary>K, the number of rank-one gradients.</summary>
    public int Count { get; }

    /// <summary>D, the number of dense gradients.</summary>
    public int DenseCount { get; }

    /// <summary>m, rows of each gradient (the layer's outputs).</summary>
    public int Rows { get; }

    /// <summary>n, columns of each gradient (the layer's inputs).</summary>
    public int Cols { get; }

    /// <summary>E, the number of distinct input rows.</summary>
    public int Examples { get; }

    /// <summary>All δₖ, K×m row-major.</summary>
    public ReadOnlySpan<double> Deltas => deltas;

    /// <summary>All a_e, E×n row-major.</summary>
    public ReadOnlySpan<double> Inputs => inputs;

    /// <summary>The dense gradients, D×m×n.</summary>
    public ReadOnlySpan<double> Dense => dense;

    /// <summary>The normalised weights (sum 1): K rank-one weights, then D dense ones.</summary>
    public ReadOnlySpan<double> Weights => weights;

    /// <summary>The rank-one gradients' weights.</summary>
    public ReadOnlySpan<double> RankOneWeights => weights.AsSpan(0, Count);

    /// <summary>The dense gradients' weights.</summary>
    public ReadOnlySpan<double> DenseWeights => weights.AsSpan(Count);

    /// <summary>e(k): the input row of rank-one gradient k.</summary>
    public int ExampleOf(int k) => exampleOf is null ? k : exampleOf[k];

    /// <summary>The same gradients formed densely ((K + D)×m×n fp64, rank-one ones first) as a library sample; for small layers and tests.</summary>
    /// <exception cref="InvalidOperationException">The dense sample would not fit one array.</exception>
    public GradientSample<double> ToGradientSample()
    {
        var size = (long)Rows * Cols;
        var total = Count + DenseCount;
        if (size * total > Array.MaxLength)
        {
            throw new InvalidOperationException($"{total} dense {Rows}×{Cols} gradients do not fit one array; use the factored metrics.");
        }

        var stack = new double[size * total];
        for (var k = 0; k < Count; k++)
        {
            var delta = deltas.AsSpan(k * Rows, Rows);
            var input = inputs.AsSpan(ExampleOf(k) * Cols, Cols);
            var g = stack.AsSpan((int)(k * size), (int)size);
            for (var i = 0; i < Rows; i++)
            {
                TensorPrimitives.Multiply(input, delta[i], g.Slice(i * Cols, Cols));
            }
        }

        dense.CopyTo(stack, Count * size);
        return new GradientSample<double>(stack, total, Rows, Cols, weights);
    }

    /// <inheritdoc />
    void IKroneckerSample.Apply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> nextA, Span<double> nextB, BlasBackend? blas) =>
        FactoredKronecker.Apply(this, a, b, nextA, nextB, blas);

    /// <inheritdoc />
    double IKroneckerSample.InnerProduct(ReadOnlySpan<double> a, ReadOnlySpan<double> b, BlasBackend? blas) =>
        FactoredKronecker.InnerProduct(this, a, b, blas);

    /// <summary>The scratch buffers of a power-iteration pass, reused across passes (a run would otherwise fill the
    /// large-object heap); a concurrent second caller gets fresh ones.</summary>
    internal FactoredKronecker.Workspace TakeWorkspace() => Interlocked.Exchange(ref workspace, null) ?? new FactoredKronecker.Workspace(this);

    /// <summary>Hands the buffers back for the next pass.</summary>
    internal void ReturnWorkspace(FactoredKronecker.Workspace buffers) => workspace = buffers;
}
