using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ShampooMkl.Memory;

namespace ShampooMkl.Kronecker;

/// <summary>Walks a <see cref="GradientSample{T}"/> a few examples at a time, promoted to fp64 in the two layouts the batched products need.</summary>
/// <remarks>
/// For a chunk of c examples:
/// - vertical  V = [G₁; …; G_c] ((c·m)×n): row-major storage order, so Σ Gᵢᵀ Uᵢ = Vᵀ [U₁; …; U_c] is one gemm;
/// - horizontal W = [G₁ … G_c] (m×(c·n)): Σ Tᵢ Gᵢᵀ = [T₁ … T_c] Wᵀ is one gemm (this is H_s (I ⊗ B) H_sᵀ of the issue).
/// Promoting per chunk keeps fp32 storage (half the memory of the whole sample) while every sum is accumulated in
/// fp64; a chunk is a few tens of MB, so the copies cost far less than the O(m·n·(m+n)) flops per example they feed.
/// Optionally each example is scaled by √wᵢ, which turns weighted sums of GᵢGᵢᵀ into plain syrk calls.
/// </remarks>
internal sealed class GradientChunks<T> : IDisposable where T : unmanaged
{
    /// <summary>fp64 elements per layout buffer (32 MB): large enough for BLAS efficiency, small next to the sample.</summary>
    public const int DefaultChunkElements = 1 << 22;

    private readonly GradientSample<T> sample;
    private readonly bool scaleBySqrtWeight;
    private readonly AlignedArray<double>? vertical;
    private readonly AlignedArray<double>? horizontal;
    private readonly bool verticalInPlace;
    private int first;
    private int count;

    public GradientChunks(GradientSample<T> sample, bool needVertical, bool needHorizontal, bool scaleBySqrtWeight, int chunkExamples = 0)
    {
        this.sample = sample;
        this.scaleBySqrtWeight = scaleBySqrtWeight;
        var perExample = sample.GradientLength;
        ChunkExamples = chunkExamples > 0
            ? Math.Min(chunkExamples, sample.Count)
            : Math.Clamp(DefaultChunkElements / perExample, 1, sample.Count);
        var elements = ChunkExamples * perExample;

        // fp64 storage without weights needs no copy for the vertical layout: it is the storage itself.
        verticalInPlace = needVertical && typeof(T) == typeof(double) && !scaleBySqrtWeight;
        if (needVertical && !verticalInPlace)
        {
            vertical = new AlignedArray<double>(elements);
        }

        if (needHorizontal)
        {
            horizontal = new AlignedArray<double>(elements);
        }
    }

    /// <summary>Examples per chunk (the last chunk may be shorter).</summary>
    public int ChunkExamples { get; }

    /// <summary>Index of the first example of the loaded chunk.</summary>
    public int First => first;

    /// <summary>Examples in the loaded chunk.</summary>
    public int Count => count;

    /// <summary>Loads examples [first, first + count) into the requested layouts.</summary>
    public void Load(int firstExample, int exampleCount)
    {
        first = firstExample;
        count = exampleCount;
        var m = sample.Rows;
        var n = sample.Cols;
        var perExample = sample.GradientLength;
        var stride = exampleCount * n;
        var owner = sample;
        var data = sample.Memory;
        var vert = vertical;
        var horz = horizontal;
        var scale = scaleBySqrtWeight;

        // Memory-bound copies: spread across cores while BLAS is idle between calls.
        Parallel.For(0, exampleCount, i =>
        {
            var source = data.Span.Slice((firstExample + i) * perExample, perExample);
            var factor = scale ? Math.Sqrt(owner.Weights[firstExample + i]) : 1.0;
            if (vert is not null)
            {
                var target = vert.Span.Slice(i * perExample, perExample);
                Promote(source, target, factor);
            }

            if (horz is not null)
            {
                var target = horz.Span;
                for (var r = 0; r < m; r++)
                {
                    Promote(source.Slice(r * n, n), target.Slice((r * stride) + (i * n), n), factor);
                }
            }
        });
    }

    /// <summary>The loaded chunk as (c·m)×n.</summary>
    public ReadOnlyMatrixView<double> Vertical
    {
        get
        {
            var rows = count * sample.Rows;
            if (verticalInPlace)
            {
                var all = MemoryMarshal.Cast<T, double>(sample.Data);
                return new ReadOnlyMatrixView<double>(all.Slice(first * sample.GradientLength, count * sample.GradientLength), rows, sample.Cols);
            }

            return new ReadOnlyMatrixView<double>(vertical!.Span[..(count * sample.GradientLength)], rows, sample.Cols);
        }
    }

    /// <summary>The loaded chunk as m×(c·n).</summary>
    public ReadOnlyMatrixView<double> Horizontal =>
        new(horizontal!.Span[..(count * sample.GradientLength)], sample.Rows, count * sample.Cols);

    public void Dispose()
    {
        vertical?.Dispose();
        horizontal?.Dispose();
    }

    private static void Promote(ReadOnlySpan<T> source, Span<double> target, double factor)
    {
        if (typeof(T) == typeof(double))
        {
            var s = MemoryMarshal.Cast<T, double>(source);
            if (factor == 1.0)
            {
                s.CopyTo(target);
            }
            else
            {
                TensorPrimitives.Multiply(s, factor, target);
            }
        }
        else
        {
            TensorPrimitives.ConvertChecked(MemoryMarshal.Cast<T, float>(source), target);
            if (factor != 1.0)
            {
                TensorPrimitives.Multiply(target, factor, target);
            }
        }
    }
}
