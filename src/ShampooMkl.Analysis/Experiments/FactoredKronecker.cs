using System.Numerics.Tensors;
using ShampooMkl.Kronecker;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>The library's Kronecker metrics (‖H‖_F, Shampoo statistics, ⟨H, A⊗B⟩, optimal-Kronecker power iteration) for a <see cref="FactoredGradientSample"/>.</summary>
/// <remarks>
/// Same definitions and conventions as <see cref="KroneckerSimilarity"/>, <see cref="KroneckerApproximations"/> and
/// <see cref="OptimalKroneckerApproximation"/> (docs/design.md, 'Conventions'). For rank-one Gₖ = δₖ aₖᵀ every trace collapses to
/// products of quadratic forms:
/// ⟨Gₖ, Gₗ⟩ = (δₖᵀδₗ)(aₖᵀaₗ);  Gₖ B Gₖᵀ = (aₖᵀBaₖ) δₖδₖᵀ;  Gₖᵀ A Gₖ = (δₖᵀAδₖ) aₖaₖᵀ;  tr(Gₖᵀ A Gₖ Bᵀ) = (δₖᵀAδₖ)(aₖᵀBaₖ),
/// so a power-iteration pass costs O(K·m² + E·n²) instead of O(K·m·n·(m+n)), and ‖H‖ needs the K×K Gram of the δ's
/// (computed in row blocks, never stored whole) times the E×E Gram of the inputs. The few dense gradients Dⱼ are
/// handled as the library does, stacked vertically so the n²-sized products are single gemms; their cross terms with
/// the rank-one part are ⟨Gₖ, Dⱼ⟩ = δₖᵀ Dⱼ aₖ. Results are the library's own types, and everything is accumulated in fp64.
/// </remarks>
public static class FactoredKronecker
{
    /// <summary>Doubles per block of the δ Gram matrix (32 MB): large enough for gemm, small next to a K×K matrix.</summary>
    private const int GramBlockElements = 1 << 22;

    /// <summary>‖H‖_F = √(Σₖₗ wₖwₗ⟨Gₖ, Gₗ⟩²), split into rank-one/rank-one, rank-one/dense and dense/dense pairs.</summary>
    public static double HNorm(FactoredGradientSample sample, BlasBackend? blas = null)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var lib = blas ?? BlasBackend.Default;
        var squared = RankOneSquaredNorm(sample, lib) + (2 * CrossSquaredNorm(sample, lib)) + DenseSquaredNorm(sample, lib);
        return Math.Sqrt(Math.Max(squared, 0));
    }

    /// <summary>L = Σ wₖ ‖aₖ‖² δₖδₖᵀ + Σ wⱼ DⱼDⱼᵀ and R = Σ wₖ ‖δₖ‖² aₖaₖᵀ + Σ wⱼ DⱼᵀDⱼ, as the library's statistics (so Shampoo² and Shampoo follow).</summary>
    public static ShampooStatistics Statistics(FactoredGradientSample sample, BlasBackend? blas = null)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var lib = blas ?? BlasBackend.Default;
        int m = sample.Rows, n = sample.Cols;
        var inputNorms = RowSquaredNorms(sample.Inputs, sample.Examples, n);
        var deltaNorms = RowSquaredNorms(sample.Deltas, sample.Count, m);
        var left = new double[sample.Count];
        var right = new double[sample.Examples];
        for (var k = 0; k < sample.Count; k++)
        {
            var e = sample.ExampleOf(k);
            left[k] = sample.Weights[k] * inputNorms[e];
            right[e] += sample.Weights[k] * deltaNorms[k];
        }

        var l = new double[m * m];
        var r = new double[n * n];
        WeightedGram(sample.Deltas, sample.Count, m, left, l, lib);
        WeightedGram(sample.Inputs, sample.Examples, n, right, r, lib);
        for (var j = 0; j < sample.DenseCount; j++)
        {
            var d = DenseView(sample, j);
            var w = sample.DenseWeights[j];
            MatrixProduct.Multiply(d, false, d, true, new MatrixView<double>(l, m, m), w, 1.0, lib);
            MatrixProduct.Multiply(d, true, d, false, new MatrixView<double>(r, n, n), w, 1.0, lib);
        }

        Symmetrize(l, m);
        Symmetrize(r, n);
        return new ShampooStatistics(l, r, m, n);
    }

    /// <summary>⟨H, A⊗B⟩_F = Σ wₖ (δₖᵀAδₖ)(aₖᵀBaₖ) + Σ wⱼ ⟨A Dⱼ, Dⱼ B⟩.</summary>
    /// <exception cref="ArgumentException">The pair's shape differs from the sample's.</exception>
    public static double InnerProduct(FactoredGradientSample sample, KroneckerPair approximation, BlasBackend? blas = null)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(approximation);
        CheckShape(sample, approximation);
        return InnerProduct(sample, approximation.A, approximation.B, blas);
    }

    /// <summary>cos(H, A⊗B) = ⟨H, A⊗B⟩ / (‖H‖_F ‖A‖_F ‖B‖_F), given ‖H‖_F from <see cref="HNorm"/>.</summary>
    public static double Cosine(FactoredGradientSample sample, KroneckerPair approximation, double hNorm, BlasBackend? blas = null) =>
        KroneckerSimilarity.Cosine(InnerProduct(sample, approximation, blas), hNorm, approximation);

    /// <summary>argmin ‖H − A⊗B‖_F by the library's power iteration (<see cref="OptimalKroneckerApproximation"/>) on this sample's products.</summary>
    /// <exception cref="ArgumentException">Options out of range or a start pair of the wrong shape.</exception>
    /// <exception cref="InvalidOperationException">H is zero or annihilates an iterate.</exception>
    public static OptimalKroneckerResult Optimal(FactoredGradientSample sample, PowerIterationOptions? options = null, BlasBackend? blas = null) =>
        OptimalKroneckerApproximation.Compute((IKroneckerSample)sample, options, blas);

    /// <summary>One power-iteration pass: nextA ← Σ wₖ (aₖᵀBaₖ) δₖδₖᵀ + Σ wⱼ Dⱼ B Dⱼᵀ and nextB ← Σ wₖ (δₖᵀAδₖ) aₖaₖᵀ + Σ wⱼ Dⱼᵀ A Dⱼ,
    /// both from the given pair and symmetrised (<see cref="IKroneckerSample.Apply"/>).</summary>
    internal static void Apply(FactoredGradientSample sample, ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> nextA, Span<double> nextB,
        BlasBackend? blas)
    {
        ArgumentNullException.ThrowIfNull(sample);
        int m = sample.Rows, n = sample.Cols;
        CheckLengths(sample, a, b);
        CheckLengths(sample, nextA, nextB);
        var lib = blas ?? BlasBackend.Default;
        var work = sample.TakeWorkspace();
        try
        {
            var deltaForms = QuadraticForms(sample.Deltas, sample.Count, m, a, lib, work.Scratch);
            var inputForms = QuadraticForms(sample.Inputs, sample.Examples, n, b, lib, work.Scratch);
            Array.Clear(work.RightCoefficients);
            for (var k = 0; k < sample.Count; k++)
            {
                var e = sample.ExampleOf(k);
                work.LeftCoefficients[k] = sample.Weights[k] * inputForms[e];
                work.RightCoefficients[e] += sample.Weights[k] * deltaForms[k];
            }

            WeightedGram(sample.Deltas, sample.Count, m, work.LeftCoefficients, nextA, lib, work.Scratch);
            WeightedGram(sample.Inputs, sample.Examples, n, work.RightCoefficients, nextB, lib, work.Scratch);
            DensePass(sample, a, b, nextA, nextB, lib, (work.DenseRight, work.DenseLeft));
            Symmetrize(nextA, m);
            Symmetrize(nextB, n);
        }
        finally
        {
            sample.ReturnWorkspace(work);
        }
    }

    /// <summary>⟨H, A⊗B⟩_F for row-major A (m×m) and B (n×n) (<see cref="IKroneckerSample.InnerProduct"/>).</summary>
    internal static double InnerProduct(FactoredGradientSample sample, ReadOnlySpan<double> a, ReadOnlySpan<double> b, BlasBackend? blas)
    {
        ArgumentNullException.ThrowIfNull(sample);
        CheckLengths(sample, a, b);
        var lib = blas ?? BlasBackend.Default;
        var deltaForms = QuadraticForms(sample.Deltas, sample.Count, sample.Rows, a, lib);
        var inputForms = QuadraticForms(sample.Inputs, sample.Examples, sample.Cols, b, lib);
        return RankOneInner(sample, deltaForms, inputForms) + DensePass(sample, a, b, default, default, lib);
    }

    /// <summary>The scratch buffers of one pass over a sample.</summary>
    internal sealed class Workspace(FactoredGradientSample sample)
    {
        /// <summary>Every per-row product of a pass (rows × order, either side).</summary>
        public double[] Scratch { get; } = new double[Math.Max((long)sample.Count * sample.Rows, (long)sample.Examples * sample.Cols)];

        public double[] DenseRight { get; } = new double[(long)sample.DenseCount * sample.Rows * sample.Cols];

        public double[] DenseLeft { get; } = new double[(long)sample.DenseCount * sample.Rows * sample.Cols];

        public double[] LeftCoefficients { get; } = new double[sample.Count];

        public double[] RightCoefficients { get; } = new double[sample.Examples];
    }

    /// <summary>Σₖₗ wₖwₗ (δₖᵀδₗ)² (aₖᵀaₗ)² over the rank-one gradients, by row blocks of the δ Gram's upper triangle.</summary>
    private static double RankOneSquaredNorm(FactoredGradientSample sample, BlasBackend lib)
    {
        int count = sample.Count, m = sample.Rows, examples = sample.Examples;
        if (count == 0)
        {
            return 0;
        }

        var inputGram = new double[(long)examples * examples];
        SymmetricRankUpdate.Update(new ReadOnlyMatrixView<double>(sample.Inputs, examples, sample.Cols), transpose: false,
            new MatrixView<double>(inputGram, examples, examples), 1.0, 0.0, mirrorLower: true, lib);
        var weights = sample.RankOneWeights.ToArray();
        var map = new int[count];
        for (var k = 0; k < count; k++)
        {
            map[k] = sample.ExampleOf(k);
        }

        var deltas = sample.Deltas;
        var blockRows = Math.Clamp(GramBlockElements / count, 1, count);
        var rowTotals = new double[count];
        var block = new double[(long)blockRows * count];
        for (var first = 0; first < count; first += blockRows)
        {
            var rows = Math.Min(blockRows, count - first);
            var width = count - first;
            MatrixProduct.Multiply(
                new ReadOnlyMatrixView<double>(deltas.Slice(first * m, rows * m), rows, m), false,
                new ReadOnlyMatrixView<double>(deltas.Slice(first * m, width * m), width, m), true,
                new MatrixView<double>(block.AsSpan(0, rows * width), rows, width), 1.0, 0.0, lib);
            var start = first;
            Parallel.For(0, rows, r =>
            {
                var k = start + r;
                var row = block.AsSpan(r * width, width);
                var gramRow = inputGram.AsSpan(map[k] * examples, examples);
                var off = 0.0;
                for (var j = r + 1; j < width; j++)
                {
                    var value = row[j] * gramRow[map[start + j]];
                    off += weights[start + j] * value * value;
                }

                var diagonal = row[r] * gramRow[map[k]];
                rowTotals[k] = weights[k] * ((weights[k] * diagonal * diagonal) + (2 * off));
            });
        }

        return rowTotals.Sum();
    }

    /// <summary>Σₖ Σⱼ wₖwⱼ (δₖᵀ Dⱼ aₖ)²: per dense gradient one gemm X·Dⱼᵀ (E×m), then row dots with the δ's.</summary>
    private static double CrossSquaredNorm(FactoredGradientSample sample, BlasBackend lib)
    {
        if (sample.Count == 0 || sample.DenseCount == 0)
        {
            return 0;
        }

        int m = sample.Rows, n = sample.Cols, examples = sample.Examples;
        var projected = new double[(long)examples * m];
        var total = 0.0;
        for (var j = 0; j < sample.DenseCount; j++)
        {
            MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(sample.Inputs, examples, n), false, DenseView(sample, j), true,
                new MatrixView<double>(projected, examples, m), 1.0, 0.0, lib);
            var sum = 0.0;
            for (var k = 0; k < sample.Count; k++)
            {
                var value = TensorPrimitives.Dot(sample.Deltas.Slice(k * m, m), projected.AsSpan(sample.ExampleOf(k) * m, m));
                sum += sample.Weights[k] * value * value;
            }

            total += sample.DenseWeights[j] * sum;
        }

        return total;
    }

    /// <summary>Σᵢⱼ wᵢwⱼ⟨Dᵢ, Dⱼ⟩² from the D×D Gram of the dense stack.</summary>
    private static double DenseSquaredNorm(FactoredGradientSample sample, BlasBackend lib)
    {
        var count = sample.DenseCount;
        if (count == 0)
        {
            return 0;
        }

        var gram = new double[count * count];
        SymmetricRankUpdate.Update(new ReadOnlyMatrixView<double>(sample.Dense, count, sample.Rows * sample.Cols), transpose: false,
            new MatrixView<double>(gram, count, count), 1.0, 0.0, mirrorLower: true, lib);
        var weights = sample.DenseWeights;
        var total = 0.0;
        for (var i = 0; i < count; i++)
        {
            for (var j = 0; j < count; j++)
            {
                total += weights[i] * weights[j] * gram[(i * count) + j] * gram[(i * count) + j];
            }
        }

        return total;
    }

    /// <summary>The dense gradients' share of one pass: returns Σ wⱼ⟨A Dⱼ, Dⱼ B⟩ and, when targets are given, adds
    /// Σ wⱼ Dⱼ B Dⱼᵀ to <paramref name="nextA"/> and Σ wⱼ Dⱼᵀ A Dⱼ to <paramref name="nextB"/> (empty: only the inner product).</summary>
    private static double DensePass(FactoredGradientSample sample, ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> nextA, Span<double> nextB,
        BlasBackend lib, (double[] Right, double[] Left)? scratch = null)
    {
        var count = sample.DenseCount;
        if (count == 0)
        {
            return 0;
        }

        int m = sample.Rows, n = sample.Cols, size = m * n;
        var stack = new ReadOnlyMatrixView<double>(sample.Dense, count * m, n);
        var right = scratch?.Right ?? new double[count * size];
        var left = scratch?.Left ?? new double[count * size];

        // Vertical stack [D₁; …; D_D]: all Dⱼ B in one gemm; A Dⱼ (weighted) per gradient.
        MatrixProduct.Multiply(stack, false, new ReadOnlyMatrixView<double>(b, n, n), false, new MatrixView<double>(right, count * m, n), 1.0, 0.0, lib);
        var inner = 0.0;
        for (var j = 0; j < count; j++)
        {
            var w = sample.DenseWeights[j];
            var target = new MatrixView<double>(left.AsSpan(j * size, size), m, n);
            MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(a, m, m), false, DenseView(sample, j), false, target, w, 0.0, lib);
            inner += TensorPrimitives.Dot(left.AsSpan(j * size, size), right.AsSpan(j * size, size));
            if (!nextA.IsEmpty)
            {
                MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(right.AsSpan(j * size, size), m, n), false, DenseView(sample, j), true,
                    new MatrixView<double>(nextA, m, m), w, 1.0, lib);
            }
        }

        if (!nextB.IsEmpty)
        {
            MatrixProduct.Multiply(stack, true, new ReadOnlyMatrixView<double>(left, count * m, n), false, new MatrixView<double>(nextB, n, n), 1.0, 1.0, lib);
        }

        return inner;
    }

    private static ReadOnlyMatrixView<double> DenseView(FactoredGradientSample sample, int j)
    {
        var size = sample.Rows * sample.Cols;
        return new ReadOnlyMatrixView<double>(sample.Dense.Slice(j * size, size), sample.Rows, sample.Cols);
    }

    /// <summary>result ← Xᵀ diag(c) X (d×d): one syrk on rows scaled by √cᵢ when every cᵢ ≥ 0 (always, for PSD iterates),
    /// otherwise one gemm (a start pair need not be PSD). <paramref name="scratch"/> holds at least count·d values.</summary>
    private static void WeightedGram(ReadOnlySpan<double> rows, int count, int d, ReadOnlySpan<double> coefficients, Span<double> result, BlasBackend blas, double[]? scratch = null)
    {
        if (count == 0)
        {
            result.Clear();
            return;
        }

        var scaled = scratch ?? new double[(long)count * d];
        var nonNegative = true;
        foreach (var c in coefficients[..count])
        {
            nonNegative &= c >= 0;
        }

        for (var i = 0; i < count; i++)
        {
            var factor = nonNegative ? Math.Sqrt(coefficients[i]) : coefficients[i];
            TensorPrimitives.Multiply(rows.Slice(i * d, d), factor, scaled.AsSpan(i * d, d));
        }

        var target = new MatrixView<double>(result, d, d);
        if (nonNegative)
        {
            SymmetricRankUpdate.Update(new ReadOnlyMatrixView<double>(scaled.AsSpan(0, count * d), count, d), transpose: true, target, 1.0, 0.0, mirrorLower: true, blas);
        }
        else
        {
            MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(rows[..(count * d)], count, d), true,
                new ReadOnlyMatrixView<double>(scaled.AsSpan(0, count * d), count, d), false, target, 1.0, 0.0, blas);
        }
    }

    /// <summary>xᵢᵀ M xᵢ for every row: one gemm X·M, then row dot products. <paramref name="scratch"/> holds at least count·d values.</summary>
    private static double[] QuadraticForms(ReadOnlySpan<double> rows, int count, int d, ReadOnlySpan<double> matrix, BlasBackend blas, double[]? scratch = null)
    {
        var forms = new double[count];
        if (count == 0)
        {
            return forms;
        }

        var product = scratch ?? new double[(long)count * d];
        MatrixProduct.Multiply(new ReadOnlyMatrixView<double>(rows[..(count * d)], count, d), false,
            new ReadOnlyMatrixView<double>(matrix, d, d), false,
            new MatrixView<double>(product.AsSpan(0, count * d), count, d), 1.0, 0.0, blas);
        for (var i = 0; i < count; i++)
        {
            forms[i] = TensorPrimitives.Dot(rows.Slice(i * d, d), product.AsSpan(i * d, d));
        }

        return forms;
    }

    private static double RankOneInner(FactoredGradientSample sample, double[] deltaForms, double[] inputForms)
    {
        var total = 0.0;
        for (var k = 0; k < sample.Count; k++)
        {
            total += sample.Weights[k] * deltaForms[k] * inputForms[sample.ExampleOf(k)];
        }

        return total;
    }

    private static double[] RowSquaredNorms(ReadOnlySpan<double> rows, int count, int d)
    {
        var norms = new double[count];
        for (var i = 0; i < count; i++)
        {
            var row = rows.Slice(i * d, d);
            norms[i] = TensorPrimitives.Dot(row, row);
        }

        return norms;
    }

    private static void CheckLengths(FactoredGradientSample sample, ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int m = sample.Rows, n = sample.Cols;
        if (a.Length != m * m || b.Length != n * n)
        {
            throw new ArgumentException($"For {m}×{n} gradients A must hold {m * m} values and B {n * n}; got {a.Length} and {b.Length}.");
        }
    }

    private static void CheckShape(FactoredGradientSample sample, KroneckerPair pair)
    {
        if (pair.Rows != sample.Rows || pair.Cols != sample.Cols)
        {
            throw new ArgumentException($"The pair is for {pair.Rows}×{pair.Cols} gradients, the sample's are {sample.Rows}×{sample.Cols}.");
        }
    }

    // gemm's two halves of a symmetric product can differ in the last bit; later eigendecompositions assume exact symmetry.
    private static void Symmetrize(Span<double> c, int d)
    {
        for (var i = 0; i < d; i++)
        {
            for (var j = i + 1; j < d; j++)
            {
                var mean = 0.5 * (c[(i * d) + j] + c[(j * d) + i]);
                c[(i * d) + j] = mean;
                c[(j * d) + i] = mean;
            }
        }
    }
}
