namespace ShampooMkl.Analysis.Data;

internal readonly record struct NpyHeader(string DType, int[] Shape, int ItemSize);
