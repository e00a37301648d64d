using ShampooMkl.Memory;

namespace ShampooMkl.Tests.Memory;

/// <summary>Shape, stride and slice validation of the row-major matrix views.</summary>
public class MatrixViewTests
{
    [Fact]
    public void Constructor_DefaultsStrideToColumnCount()
    {
        var view = new MatrixView<double>(new double[12], 3, 4);

        Assert.Equal(4, view.Stride);
        Assert.Equal(3, view.Rows);
        Assert.Equal(4, view.Cols);
    }

    [Fact]
    public void Indexer_AndRow_FollowTheStride()
    {
        var data = Enumerable.Range(0, 15).Select(i => (double)i).ToArray();
        var view = new MatrixView<double>(data, 3, 2, stride: 5);

        Assert.Equal(11.0, view[2, 1]);
        Assert.Equal([5.0, 6.0], view.Row(1).ToArray());
        Assert.Equal(11.0, view.AsReadOnly()[2, 1]);
        ReadOnlyMatrixView<double> converted = view;
        Assert.Equal([10.0, 11.0], converted.Row(2).ToArray());
    }

    [Fact]
    public void Constructor_AcceptsTheShortestSpanThatHoldsTheLastRow()
    {
        // (rows − 1)·stride + cols: the padding after the last row is not required.
        var view = new MatrixView<double>(new double[(2 * 5) + 3], 3, 3, stride: 5);

        Assert.Equal(3, view.Rows);
    }

    [Fact]
    public void Constructor_AcceptsEmptyMatrices()
    {
        Assert.Equal(0, new MatrixView<double>(Span<double>.Empty, 0, 5).Rows);
        Assert.Equal(0, new ReadOnlyMatrixView<double>(ReadOnlySpan<double>.Empty, 0, 0).Cols);
    }

    [Theory]
    [InlineData(-1, 3, 3)]
    [InlineData(3, -1, 3)]
    public void Constructor_ThrowsForNegativeDimensions(int rows, int cols, int stride)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MatrixView<double>(new double[100], rows, cols, stride));

        Assert.Contains("non-negative", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3, 4, 3)]
    [InlineData(2, 0, 0)]
    public void Constructor_ThrowsForStrideSmallerThanColumns(int rows, int cols, int stride)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MatrixView<double>(new double[100], rows, cols, stride));
        var readOnly = Assert.Throws<ArgumentOutOfRangeException>(() => new ReadOnlyMatrixView<double>(new double[100], rows, cols, stride));

        Assert.Equal("stride", e.ParamName);
        Assert.Equal("stride", readOnly.ParamName);
    }

    [Theory]
    [InlineData(11, 3, 4, 4)] // needs 12
    [InlineData(12, 3, 3, 5)] // needs 13
    public void Constructor_ThrowsForTooShortSpan(int length, int rows, int cols, int stride)
    {
        var e = Assert.Throws<ArgumentException>(() => new MatrixView<double>(new double[length], rows, cols, stride));

        Assert.Contains($"the span has {length}", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ReadOnlyMatrixView<double>(new double[length], rows, cols, stride));
    }

    [Fact]
    public void Slice_KeepsTheParentStride()
    {
        var data = Enumerable.Range(0, 20).Select(i => (double)i).ToArray();
        var view = new MatrixView<double>(data, 4, 5);

        var slice = view.Slice(1, 2, 2, 3);

        Assert.Equal(5, slice.Stride);
        Assert.Equal(7.0, slice[0, 0]);
        Assert.Equal(14.0, slice[1, 2]);
        Assert.Equal(14.0, view.AsReadOnly().Slice(1, 2, 2, 3)[1, 2]);
    }

    [Theory]
    [InlineData(0, 3, 2, 3)]  // columns 3..5 of a 5-column matrix would read the next row
    [InlineData(3, 0, 2, 1)]  // rows 3..4 of a 4-row matrix
    [InlineData(-1, 0, 1, 1)]
    [InlineData(0, -1, 1, 1)]
    [InlineData(0, 0, 5, 1)]
    [InlineData(0, 0, 1, 6)]
    public void Slice_ThrowsOutsideTheParent(int row, int col, int rows, int cols)
    {
        var data = new double[4 * 8];

        Assert.ThrowsAny<ArgumentException>(() => new MatrixView<double>(data, 4, 5, stride: 8).Slice(row, col, rows, cols));
        Assert.ThrowsAny<ArgumentException>(() => new ReadOnlyMatrixView<double>(data, 4, 5, stride: 8).Slice(row, col, rows, cols));
    }
}
