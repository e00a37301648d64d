using System.Numerics.Tensors;
using ShampooMkl.Analysis.Models;
using ShampooMkl.Kronecker;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>One dense layer's per-example gradient factors for N examples under true, sampled and all labels, and the samples built from them.</summary>
/// <remarks>
/// Gradient convention: Gᵢ is example i's own-loss weight gradient δᵢaᵢᵀ (m×n = out×in, row-major vec, docs/design.md, 'Conventions'),
/// the bias is not included. From one forward pass per chunk the model is run backward 2 + C times (true labels,
/// sampled labels, then every class c), which <see cref="IModel.Backward(ReadOnlySpan{byte})"/> allows without a new
/// forward pass. Only the factors δ (m per gradient) and a (n per example) are kept.
/// The estimators:
/// <list type="bullet">
/// <item><see cref="PerExample"/> True: Σᵢ (1/N) gᵢ(yᵢ)gᵢ(yᵢ)ᵀ — Adagrad's H at the current weights, read as a Hessian estimate
/// it is the empirical Fisher.</item>
/// <item><see cref="PerExample"/> Sampled: Σᵢ (1/N) gᵢ(ŷᵢ)gᵢ(ŷᵢ)ᵀ with ŷᵢ ~ p(·|xᵢ) — unbiased for the Fisher.</item>
/// <item><see cref="PerExample"/> Exact: Σᵢ Σ_c (pᵢ[c]/N) gᵢ(c)gᵢ(c)ᵀ — the Fisher itself, = Gauss–Newton for softmax cross-entropy.</item>
/// <item><see cref="Batched"/> and <see cref="ExpectedBatched"/>: the batch-gradient trick, see there.</item>
/// </list>
/// </remarks>
public sealed class HessianEstimates
{
    /// <summary>Most elements a dense batch sample may hold (2 GB of fp64): beyond that the batch is too small to be the point of the trick.</summary>
    public const long MaxBatchSampleElements = 1L << 28;

    private readonly float[] inputs;
    private readonly float[] trueDeltas;
    private readonly float[] sampledDeltas;
    private readonly float[] classDeltas;
    private readonly float[] probabilities;
    private readonly byte[] labels;
    private readonly byte[] sampledLabels;
    private FactoredGradientSample? trueSample;
    private FactoredGradientSample? sampledSample;
    private FactoredGradientSample? exactSample;

    internal HessianEstimates(float[] inputs, float[] trueDeltas, float[] sampledDeltas, float[] classDeltas, float[] probabilities,
        byte[] labels, byte[] sampledLabels, int count, int rows, int cols, int classes)
    {
        if (inputs.Length != count * cols || trueDeltas.Length != count * rows || sampledDeltas.Length != count * rows
            || classDeltas.Length != count * classes * rows || probabilities.Length != count * classes
            || labels.Length != count || sampledLabels.Length != count)
        {
            throw new ArgumentException($"Factor arrays do not match N = {count}, m = {rows}, n = {cols}, C = {classes}.");
        }

        this.inputs = inputs;
        this.trueDeltas = trueDeltas;
        this.sampledDeltas = sampledDeltas;
        this.classDeltas = classDeltas;
        this.probabilities = probabilities;
        this.labels = labels;
        this.sampledLabels = sampledLabels;
        Count = count;
        Rows = rows;
        Cols = cols;
        Classes = classes;
    }

    /// <summary>N, the examples measured.</summary>
    public int Count { get; }

    /// <summary>m, the layer's outputs (rows of W).</summary>
    public int Rows { get; }

    /// <summary>n, the layer's inputs (columns of W).</summary>
    public int Cols { get; }

    /// <summary>C, the model's classes.</summary>
    public int Classes { get; }

    /// <summary>aᵢ, the layer inputs, N×n.</summary>
    public ReadOnlySpan<float> Inputs => inputs;

    /// <summary>pᵢ, the model's softmax, N×C.</summary>
    public ReadOnlySpan<float> Probabilities => probabilities;

    /// <summary>The data set's labels yᵢ.</summary>
    public ReadOnlySpan<byte> Labels => labels;

    /// <summary>The sampled labels ŷᵢ.</summary>
    public ReadOnlySpan<byte> SampledLabels => sampledLabels;

    /// <summary>Runs the model over <paramref name="count"/> examples (in chunks of its maximum batch) and keeps layer <paramref name="layerIndex"/>'s factors.</summary>
    /// <param name="model">The model at the weights to analyse; its forward/backward state is overwritten.</param>
    /// <param name="layerIndex">Index into <see cref="IModel.DenseLayers"/>.</param>
    /// <param name="images">count × features inputs.</param>
    /// <param name="labels">count labels.</param>
    /// <param name="count">N ≥ 1.</param>
    /// <param name="labelSampler">Draws ŷᵢ ~ p(·|xᵢ); seed it for reproducible results.</param>
    /// <exception cref="ArgumentOutOfRangeException">The layer index or count is out of range.</exception>
    /// <exception cref="ArgumentException">Too few images or labels.</exception>
    public static HessianEstimates Collect(IModel model, int layerIndex, ReadOnlySpan<float> images, ReadOnlySpan<byte> labels, int count, Random labelSampler)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(labelSampler);
        ArgumentOutOfRangeException.ThrowIfNegative(layerIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layerIndex, model.DenseLayers.Count, nameof(layerIndex));
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var features = model.InputFeatures;
        if (images.Length < (long)count * features || labels.Length < count)
        {
            throw new ArgumentException($"{count} examples need {(long)count * features} image values and {count} labels; got {images.Length} and {labels.Length}.");
        }

        var layer = model.DenseLayers[layerIndex];
        int m = layer.Outputs, n = layer.Inputs, classes = model.Classes;
        var a = new float[count * n];
        var trueDeltas = new float[count * m];
        var sampledDeltas = new float[count * m];
        var classDeltas = new float[count * classes * m];
        var probabilities = new float[count * classes];
        var trueLabels = labels[..count].ToArray();
        var sampled = new byte[count];
        var chunkLabels = new byte[model.MaxBatchSize];
        var chunkDeltas = new float[model.MaxBatchSize * m];
        for (var first = 0; first < count; first += model.MaxBatchSize)
        {
            var size = Math.Min(model.MaxBatchSize, count - first);
            model.Forward(images.Slice(first * features, size * features), trueLabels.AsSpan(first, size), size);
            layer.LayerInput.CopyTo(a.AsSpan(first * n, size * n));
            model.Probabilities.CopyTo(probabilities.AsSpan(first * classes, size * classes));
            SoftmaxCrossEntropy.SampleLabels(model.Probabilities, size, classes, labelSampler, sampled.AsSpan(first, size));

            model.Backward(trueLabels.AsSpan(first, size));
            model.PerExampleBiasGradients(layerIndex, trueDeltas.AsSpan(first * m, size * m));
            model.Backward(sampled.AsSpan(first, size));
            model.PerExampleBiasGradients(layerIndex, sampledDeltas.AsSpan(first * m, size * m));
            for (var c = 0; c < classes; c++)
            {
                chunkLabels.AsSpan(0, size).Fill((byte)c);
                model.Backward(chunkLabels.AsSpan(0, size));
                model.PerExampleBiasGradients(layerIndex, chunkDeltas);
                for (var i = 0; i < size; i++)
                {
                    chunkDeltas.AsSpan(i * m, m).CopyTo(classDeltas.AsSpan((((first + i) * classes) + c) * m, m));
                }
            }
        }

        return new HessianEstimates(a, trueDeltas, sampledDeltas, classDeltas, probabilities, trueLabels, sampled, count, m, n, classes);
    }

    /// <summary>The output gradients δ of a label mode: N×m for True and Sampled, (N·C)×m for Exact (row i·C + c is class c of example i).</summary>
    public ReadOnlySpan<float> Deltas(LabelMode mode) => mode switch
    {
        LabelMode.True => trueDeltas,
        LabelMode.Sampled => sampledDeltas,
        LabelMode.Exact => classDeltas,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown label mode."),
    };

    /// <summary>The per-example gradient sample of a label mode, factored (cached: the same object on every call).</summary>
    public FactoredGradientSample PerExample(LabelMode mode) => mode switch
    {
        LabelMode.True => trueSample ??= new FactoredGradientSample(Widen(trueDeltas), Count, Rows, Widen(inputs), Count, Cols),
        LabelMode.Sampled => sampledSample ??= new FactoredGradientSample(Widen(sampledDeltas), Count, Rows, Widen(inputs), Count, Cols),
        LabelMode.Exact => exactSample ??= BuildExactSample(),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown label mode."),
    };

    /// <summary>The batch-gradient sample: what a Shampoo step sees when it only has mini-batch gradients.</summary>
    /// <remarks>
    /// The N examples, in measurement order (a seeded shuffle), form K = ⌈N/B⌉ consecutive batches 𝓑ₖ (the last may be
    /// shorter). With the batch sum Sₖ = Σ_{i∈𝓑ₖ} Gᵢ = |𝓑ₖ|·Ḡₖ (Ḡₖ the mini-batch mean gradient) the estimator is
    /// H_B = (1/N) Σₖ vec(Sₖ)vec(Sₖ)ᵀ, hence L_B = (1/N) Σₖ SₖSₖᵀ = (1/N) Σₖ |𝓑ₖ|² ḠₖḠₖᵀ — for equal batches (B/K)·Σₖ ḠₖḠₖᵀ,
    /// the mean over batches of B·ḠₖḠₖᵀ: mini-batch means rescaled by the batch size — and likewise R_B and Tr(H_B).
    /// Expanding SₖSₖᵀ gives L_B = L + (1/N) Σₖ Σ_{i≠j∈𝓑ₖ} GᵢGⱼᵀ. With sampled labels E[Gᵢ | xᵢ] = Σ_c pᵢ[c]·gᵢ(c) = 0 (the
    /// score has mean zero), so the cross terms vanish in expectation and L_B is unbiased for the Fisher's L; with true
    /// labels E[Gᵢ] is the loss gradient, not zero, and the cross terms add a bias (see <see cref="ExpectedBatched"/>).
    /// Stored as K dense items √(K/N)·Sₖ with uniform weights, so the sample's H is exactly H_B.
    /// </remarks>
    /// <exception cref="ArgumentException">Mode Exact (a class-weighted sample has no batches), or the dense sample would be too large.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    public FactoredGradientSample Batched(LabelMode mode, int batchSize, BlasBackend? blas = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        RejectExact(mode);
        return BatchSample(Deltas(mode), inputs, Count, Rows, Cols, batchSize, blas);
    }

    /// <summary>The batch estimator's expectation over random partitions of the N examples into batches of B: the
    /// limit of averaging <see cref="Batched"/> over many batchings, i.e. of Shampoo accumulating many mini-batches at these weights.</summary>
    /// <remarks>
    /// Two distinct examples share a batch with probability c = (B − 1)/(N − 1), so
    /// E[H_B] = (1/N)[Σᵢ gᵢgᵢᵀ + c Σ_{i≠j} gᵢgⱼᵀ] = (1 − c)·H + c·N·ḡḡᵀ, ḡ = vec(Ḡ) the mean gradient over the N examples;
    /// likewise E[L_B] = (1 − c)L + cN·ḠḠᵀ. This isolates the bias of the trick from its sampling noise: with sampled
    /// labels Ḡ is only noise of size O(‖G‖/√N) and E[H_B] ≈ H; with true labels Ḡ is the loss gradient and the
    /// rank-one term cN·ḡḡᵀ ≈ (B − 1)·ḡḡᵀ can dominate. B is capped at N (one batch of everything, c = 1).
    /// The sample holds the N rank-one gradients with weight (1 − c)/N each and Ḡ as one dense gradient with weight cN
    /// (weights are relative, so its H is E[H_B] up to the factor 1 − c + cN, which no cosine sees).
    /// </remarks>
    /// <exception cref="ArgumentException">Mode Exact.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1.</exception>
    public FactoredGradientSample ExpectedBatched(LabelMode mode, int batchSize, BlasBackend? blas = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        RejectExact(mode);
        var b = Math.Min(batchSize, Count);
        var c = Count == 1 ? 1.0 : (b - 1.0) / (Count - 1.0);
        var perExample = PerExample(mode);
        var mean = new double[Rows * Cols];
        MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(perExample.Deltas, Count, Rows), true, new ReadOnlyMatrixView<double>(perExample.Inputs, Count, Cols), false,
            new MatrixView<double>(mean, Rows, Cols), 1.0 / Count, 0.0, blas);
        var weights = new double[Count + 1];
        Array.Fill(weights, (1 - c) / Count);
        weights[Count] = c * Count;
        return new FactoredGradientSample(perExample.Deltas.ToArray(), Count, Rows, perExample.Inputs.ToArray(), Count, Cols, null, weights, mean);
    }

    /// <summary>K-FAC's E[δδᵀ] ⊗ E[aaᵀ] under the same labels and weights as <see cref="PerExample"/>.</summary>
    public KroneckerPair KFac(LabelMode mode, BlasBackend? blas = null)
    {
        if (mode != LabelMode.Exact)
        {
            return KroneckerApproximations.KFac(new ReadOnlyMatrixView<float>(Deltas(mode), Count, Rows),
                new ReadOnlyMatrixView<float>(inputs, Count, Cols), default, blas);
        }

        // One row of a per (example, class), weighted by p, so E[aaᵀ] gets each example's total weight 1/N.
        var repeated = new float[(long)Count * Classes * Cols];
        for (var i = 0; i < Count; i++)
        {
            for (var c = 0; c < Classes; c++)
            {
                inputs.AsSpan(i * Cols, Cols).CopyTo(repeated.AsSpan(((i * Classes) + c) * Cols, Cols));
            }
        }

        return KroneckerApproximations.KFac(new ReadOnlyMatrixView<float>(classDeltas, Count * Classes, Rows),
            new ReadOnlyMatrixView<float>(repeated, Count * Classes, Cols), ExactWeights(), blas);
    }

    /// <summary>The batch-gradient sample of <see cref="Batched"/> from raw factors (δ: count×m, a: count×n).</summary>
    internal static FactoredGradientSample BatchSample(ReadOnlySpan<float> deltas, ReadOnlySpan<float> inputs, int count, int rows, int cols, int batchSize, BlasBackend? blas)
    {
        var batches = (count + batchSize - 1) / batchSize;
        var size = rows * cols;
        if ((long)batches * size > MaxBatchSampleElements)
        {
            throw new ArgumentException(
                $"{batches} batch gradients of {rows}×{cols} would need {(long)batches * size * sizeof(double) / (1 << 20)} MB; use a larger batch or fewer examples.",
                nameof(batchSize));
        }

        var stack = new double[batches * size];
        var scale = Math.Sqrt((double)batches / count);
        for (var k = 0; k < batches; k++)
        {
            var first = k * batchSize;
            var members = Math.Min(batchSize, count - first);
            var d = new double[members * rows];
            var a = new double[members * cols];
            TensorPrimitives.ConvertChecked(deltas.Slice(first * rows, members * rows), d);
            TensorPrimitives.ConvertChecked(inputs.Slice(first * cols, members * cols), a);

            // Sₖ = Δₖᵀ Aₖ (m×|𝓑ₖ| times |𝓑ₖ|×n), scaled into the estimator's normalisation.
            MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(d, members, rows), true, new ReadOnlyMatrixView<double>(a, members, cols), false,
                new MatrixView<double>(stack.AsSpan(k * size, size), rows, cols), scale, 0.0, blas);
        }

        return new FactoredGradientSample([], 0, rows, [], 0, cols, dense: stack);
    }

    private static void RejectExact(LabelMode mode)
    {
        if (mode == LabelMode.Exact)
        {
            throw new ArgumentException("The exact (class-weighted) Fisher has no mini-batch gradients; use True or Sampled labels.", nameof(mode));
        }
    }

    private FactoredGradientSample BuildExactSample()
    {
        var total = Count * Classes;
        var map = new int[total];
        for (var k = 0; k < total; k++)
        {
            map[k] = k / Classes;
        }

        return new FactoredGradientSample(Widen(classDeltas), total, Rows, Widen(inputs), Count, Cols, map, ExactWeights());
    }

    // pᵢ[c]/N; a float probability of 0 is a legitimate zero weight.
    private double[] ExactWeights()
    {
        var weights = new double[Count * Classes];
        for (var k = 0; k < weights.Length; k++)
        {
            weights[k] = probabilities[k] / (double)Count;
        }

        return weights;
    }

    private static double[] Widen(float[] values)
    {
        var result = new double[values.Length];
        TensorPrimitives.ConvertChecked<float, double>(values, result);
        return result;
    }
}
