namespace ShampooMkl.Preconditioning;

/// <summary>A named, shaped array of state, stored as fp64 (an fp32 value survives the round trip exactly).</summary>
/// <param name="Name">Stable name within its owner (e.g. <c>block0.L</c>).</param>
/// <param name="Shape">Dimensions; empty for a scalar.</param>
/// <param name="Data">Row-major values.</param>
public sealed record StateTensor(string Name, int[] Shape, double[] Data)
{
    /// <summary>A scalar state value.</summary>
    public static StateTensor Scalar(string name, double value) => new(name, [], [value]);

    /// <summary>Copies a span into a new tensor.</summary>
    public static StateTensor From<T>(string name, ReadOnlySpan<T> data, params int[] shape) where T : unmanaged
    {
        var copy = new double[data.Length];
        Precision.Convert(data, copy);
        return new StateTensor(name, shape, copy);
    }
}
