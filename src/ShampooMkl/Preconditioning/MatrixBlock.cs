namespace ShampooMkl.Preconditioning;

/// <summary>One rectangular block of a matrix: rows [Row, Row+Rows), columns [Col, Col+Cols).</summary>
internal readonly record struct MatrixBlock(int Index, int Row, int Col, int Rows, int Cols)
{
    /// <summary>Elements in the block.</summary>
    public long Size => (long)Rows * Cols;
}
