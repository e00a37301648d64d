namespace ShampooMkl.Preconditioning;

/// <summary>Cuts an m×n matrix into blocks of at most d×d, full blocks first and the remainders last.</summary>
/// <remarks>Full d-sized blocks (as Distributed Shampoo does) keep the factor sizes uniform, so blocks
/// share workspaces and cost the same, which is what a scheduler across cores or ranks wants.</remarks>
internal static class MatrixBlocking
{
    /// <summary>The blocks of an m×n matrix with at most <paramref name="maxDim"/> rows and columns each, row-major order.</summary>
    public static MatrixBlock[] Partition(int rows, int cols, int maxDim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDim, 1);
        var rowBlocks = (rows + maxDim - 1) / maxDim;
        var colBlocks = (cols + maxDim - 1) / maxDim;
        var blocks = new MatrixBlock[rowBlocks * colBlocks];
        var index = 0;
        for (var bi = 0; bi < rowBlocks; bi++)
        {
            var r0 = bi * maxDim;
            var rs = Math.Min(maxDim, rows - r0);
            for (var bj = 0; bj < colBlocks; bj++)
            {
                var c0 = bj * maxDim;
                blocks[index] = new MatrixBlock(index, r0, c0, rs, Math.Min(maxDim, cols - c0));
                index++;
            }
        }

        return blocks;
    }
}
