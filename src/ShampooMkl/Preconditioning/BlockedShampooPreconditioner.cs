using System.Numerics;
using System.Runtime.InteropServices;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Preconditioning;

/// <summary>Shampoo for a whole m×n matrix cut into blocks of at most <c>maxDim</c> per side, each with its own factors.</summary>
/// <remarks>
/// Blocking bounds the cost of a root at O(maxDim³) and the memory at O(maxDim²) per block. Blocks read and
/// write the gradient and direction in place through strided views, so no block is ever copied out.
/// A matrix that fits in one block behaves exactly like a single <see cref="ShampooPreconditioner{T}"/>.
/// </remarks>
public sealed class BlockedShampooPreconditioner<T> : IPreconditioner where T : unmanaged, IFloatingPointIeee754<T>
{
    private bool disposed;
    private readonly ShampooPreconditioner<T>[] blocks;
    private readonly MatrixBlock[] layout;

    // Only needed when gradients arrive in the other precision; allocated on first such call, then reused.
    private AlignedArray<T>? convertedIn;
    private AlignedArray<T>? convertedOut;

    /// <summary>Creates the blocks of an m×n matrix.</summary>
    public BlockedShampooPreconditioner(int rows, int cols, int maxDim, ShampooPreconditionerOptions? options = null, BlasBackend? blas = null)
    {
        Rows = rows;
        Cols = cols;
        layout = MatrixBlocking.Partition(rows, cols, maxDim);
        blocks = new ShampooPreconditioner<T>[layout.Length];
        for (var i = 0; i < layout.Length; i++)
        {
            blocks[i] = new ShampooPreconditioner<T>(layout[i].Rows, layout[i].Cols, options, blas);
        }
    }

    /// <inheritdoc />
    public int Rows { get; }

    /// <inheritdoc />
    public int Cols { get; }

    /// <summary>Where each block sits in the matrix.</summary>
    internal IReadOnlyList<MatrixBlock> Layout => layout;

    /// <summary>The per-block preconditioners, in <see cref="Layout"/> order.</summary>
    public IReadOnlyList<ShampooPreconditioner<T>> Blocks => blocks;

    /// <inheritdoc />
    public long UpdateCount => blocks[0].UpdateCount;

    /// <inheritdoc />
    public bool HasRoots => blocks.All(b => b.HasRoots);

    /// <inheritdoc />
    public void Update(ReadOnlySpan<float> gradient) => Update<float>(gradient);

    /// <inheritdoc />
    public void Update(ReadOnlySpan<double> gradient) => Update<double>(gradient);

    private void Update<TIn>(ReadOnlySpan<TIn> gradient) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        ThrowIfDisposed();
        // The whole matrix is checked first, so a bad element in the last block cannot leave earlier blocks updated.
        GradientGuard.Check(gradient, Rows * Cols, Rows, Cols);
        var g = AsT(gradient);
        var magnitude = FiniteCheck.MaxMagnitude<T>(g.Data);
        for (var b = 0; b < blocks.Length; b++)
        {
            var block = layout[b];
            blocks[b].UpdateCore(g.Slice(block.Row, block.Col, block.Rows, block.Cols), magnitude);
        }
    }

    /// <summary>Accumulates one block only (validated caller: the optimizer, which checks the whole gradient first and
    /// knows its largest magnitude); returns k when the block's statistics were rescaled by 2^-k, else 0.</summary>
    internal int UpdateBlock(int index, ReadOnlyMatrixView<T> wholeGradient, double magnitude)
    {
        var block = layout[index];
        return blocks[index].UpdateCore(wholeGradient.Slice(block.Row, block.Col, block.Rows, block.Cols), magnitude);
    }

    /// <inheritdoc />
    public void Precondition(ReadOnlySpan<float> gradient, Span<float> direction) => Precondition<float>(gradient, direction);

    /// <inheritdoc />
    public void Precondition(ReadOnlySpan<double> gradient, Span<double> direction) => Precondition<double>(gradient, direction);

    private void Precondition<TIn>(ReadOnlySpan<TIn> gradient, Span<TIn> direction) where TIn : unmanaged, IFloatingPointIeee754<TIn>
    {
        ThrowIfDisposed();
        GradientGuard.CheckLengths(gradient, direction, Rows * Cols);
        var g = AsT(gradient);
        var sameType = typeof(TIn) == typeof(T);
        var d = sameType
            ? new MatrixView<T>(MemoryMarshal.Cast<TIn, T>(direction), Rows, Cols)
            : new MatrixView<T>((convertedOut ??= new AlignedArray<T>(Rows * Cols)).Span, Rows, Cols);
        for (var b = 0; b < blocks.Length; b++)
        {
            PreconditionBlock(b, g, d);
        }

        if (!sameType)
        {
            Precision.Convert<T, TIn>(convertedOut!.Span, direction);
        }
    }

    /// <summary>Preconditions one block of the whole gradient into the same block of the whole direction.</summary>
    internal void PreconditionBlock(int index, ReadOnlyMatrixView<T> wholeGradient, MatrixView<T> wholeDirection)
    {
        var block = layout[index];
        blocks[index].PreconditionCore(
            wholeGradient.Slice(block.Row, block.Col, block.Rows, block.Cols),
            wholeDirection.Slice(block.Row, block.Col, block.Rows, block.Cols));
    }

    /// <inheritdoc />
    public RootRefreshResult RefreshRoots()
    {
        ThrowIfDisposed();
        var result = new RootRefreshResult(true, 0, 0, null);
        foreach (var block in blocks)
        {
            result = RootRefreshResult.Combine(result, block.RefreshRoots());
        }

        return result;
    }

    private ReadOnlyMatrixView<T> AsT<TIn>(ReadOnlySpan<TIn> gradient) where TIn : unmanaged
    {
        if (typeof(TIn) == typeof(T))
        {
            return new ReadOnlyMatrixView<T>(MemoryMarshal.Cast<TIn, T>(gradient), Rows, Cols);
        }

        Precision.Convert(gradient, (convertedIn ??= new AlignedArray<T>(Rows * Cols)).Span);
        return new ReadOnlyMatrixView<T>(convertedIn.Span, Rows, Cols);
    }

    /// <inheritdoc />
    public IReadOnlyList<StateTensor> ExportState()
    {
        ThrowIfDisposed();
        var all = new List<StateTensor>();
        for (var b = 0; b < blocks.Length; b++)
        {
            all.AddRange(blocks[b].ExportState($"block{b}."));
        }

        return all;
    }

    /// <inheritdoc />
    public void ImportState(IReadOnlyList<StateTensor> state)
    {
        ThrowIfDisposed();
        // Import into each block only after every block's complete state was checked (not just its matrices), so a bad
        // scalar in the last block cannot leave the earlier ones replaced.
        for (var b = 0; b < blocks.Length; b++)
        {
            blocks[b].ValidateState(state, $"block{b}.");
        }

        for (var b = 0; b < blocks.Length; b++)
        {
            blocks[b].ImportState(state, $"block{b}.");
        }
    }

    /// <summary>Frees every block.</summary>
    public void Dispose()
    {
        disposed = true;
        foreach (var block in blocks)
        {
            block.Dispose();
        }

        convertedIn?.Dispose();
        convertedOut?.Dispose();
    }

    /// <summary>Names this type, not a native buffer, when used after <see cref="Dispose"/>.</summary>
    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
