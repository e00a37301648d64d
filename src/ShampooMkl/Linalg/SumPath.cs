namespace ShampooMkl.Linalg;

/// <summary>Which code path adds the lanes of a <see cref="FixedOrderSum"/>; every path gives the same bits.</summary>
internal enum SumPath
{
    /// <summary>Eight scalar partial sums.</summary>
    Scalar,

    /// <summary>Four Vector128 accumulators.</summary>
    Vector128,

    /// <summary>Two Vector256 accumulators: the same lanes, twice the arithmetic per instruction where AVX is available.</summary>
    Vector256,
}
