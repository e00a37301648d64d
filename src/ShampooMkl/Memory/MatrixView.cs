namespace ShampooMkl.Memory;

/// <summary>A row-major matrix over a span: <c>this[i, j] = Data[i * Stride + j]</c>.</summary>
public readonly ref struct MatrixView<T> where T : unmanaged
{
    /// <summary>Wraps <paramref name="data"/> as a rows×cols matrix with the given row stride.</summary>
    public MatrixView(Span<T> data, int rows, int cols, int stride = -1)
    {
        if (stride < 0)
        {
            // BLAS needs a leading dimension of at least 1 even for a matrix without columns.
            stride = Math.Max(cols, 1);
        }

        MatrixShape.Validate(data.Length, rows, cols, stride);
        Data = data;
        Rows = rows;
        Cols = cols;
        Stride = stride;
    }

    /// <summary>The underlying elements.</summary>
    public Span<T> Data { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Cols { get; }

    /// <summary>Distance between the starts of consecutive rows (BLAS's leading dimension).</summary>
    public int Stride { get; }

    /// <summary>Element (i, j).</summary>
    public ref T this[int i, int j] => ref Data[(i * Stride) + j];

    /// <summary>Row <paramref name="i"/>.</summary>
    public Span<T> Row(int i) => Data.Slice(i * Stride, Cols);

    /// <summary>A sub-block starting at (row, col).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The block does not lie inside this matrix.</exception>
    public MatrixView<T> Slice(int row, int col, int rows, int cols)
    {
        MatrixShape.ValidateSlice(Rows, Cols, row, col, rows, cols);
        return new(Data[((row * Stride) + col)..], rows, cols, Stride);
    }

    /// <summary>Read-only view of the same elements.</summary>
    public ReadOnlyMatrixView<T> AsReadOnly() => new(Data, Rows, Cols, Stride);

    /// <summary>Implicit read-only conversion.</summary>
    public static implicit operator ReadOnlyMatrixView<T>(MatrixView<T> view) => view.AsReadOnly();
}

/// <summary>A read-only row-major matrix over a span.</summary>
public readonly ref struct ReadOnlyMatrixView<T> where T : unmanaged
{
    /// <summary>Wraps <paramref name="data"/> as a rows×cols matrix with the given row stride.</summary>
    public ReadOnlyMatrixView(ReadOnlySpan<T> data, int rows, int cols, int stride = -1)
    {
        if (stride < 0)
        {
            // BLAS needs a leading dimension of at least 1 even for a matrix without columns.
            stride = Math.Max(cols, 1);
        }

        MatrixShape.Validate(data.Length, rows, cols, stride);
        Data = data;
        Rows = rows;
        Cols = cols;
        Stride = stride;
    }

    /// <summary>The underlying elements.</summary>
    public ReadOnlySpan<T> Data { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Cols { get; }

    /// <summary>Distance between the starts of consecutive rows.</summary>
    public int Stride { get; }

    /// <summary>Element (i, j).</summary>
    public T this[int i, int j] => Data[(i * Stride) + j];

    /// <summary>Row <paramref name="i"/>.</summary>
    public ReadOnlySpan<T> Row(int i) => Data.Slice(i * Stride, Cols);

    /// <summary>A sub-block starting at (row, col).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The block does not lie inside this matrix.</exception>
    public ReadOnlyMatrixView<T> Slice(int row, int col, int rows, int cols)
    {
        MatrixShape.ValidateSlice(Rows, Cols, row, col, rows, cols);
        return new(Data[((row * Stride) + col)..], rows, cols, Stride);
    }
}

/// <summary>Shape checks shared by the matrix views.</summary>
internal static class MatrixShape
{
    public static void Validate(int length, int rows, int cols, int stride)
    {
        if (rows < 0 || cols < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"A matrix needs non-negative dimensions, got {rows}×{cols}.");
        }

        if (stride < Math.Max(cols, 1))
        {
            throw new ArgumentOutOfRangeException(nameof(stride), $"Row stride {stride} is smaller than the {cols} columns.");
        }

        var needed = rows == 0 ? 0L : ((long)(rows - 1) * stride) + cols;
        if (needed > length)
        {
            throw new ArgumentException($"A {rows}×{cols} matrix with stride {stride} needs {needed} elements; the span has {length}.");
        }
    }

    // Without it a block reaching past the last column would silently read the next row through the stride.
    public static void ValidateSlice(int parentRows, int parentCols, int row, int col, int rows, int cols)
    {
        if (row < 0 || col < 0 || rows < 0 || cols < 0 || row > parentRows - rows || col > parentCols - cols)
        {
            throw new ArgumentOutOfRangeException(nameof(row),
                $"The {rows}×{cols} block at ({row}, {col}) does not fit in a {parentRows}×{parentCols} matrix.");
        }
    }
}
