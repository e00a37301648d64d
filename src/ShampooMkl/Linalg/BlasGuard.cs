namespace ShampooMkl.Linalg;

/// <summary>Argument checks and type dispatch shared by the BLAS/LAPACK wrappers.</summary>
internal static class BlasGuard
{
    /// <summary>Only IEEE single and double reach native code; anything else is a programming error.</summary>
    public static void EnsureSupported<T>()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            throw new NotSupportedException($"Only float and double are supported, not {typeof(T).Name}.");
        }
    }

    public static BlasBackend Resolve(BlasBackend? blas) => blas ?? BlasBackend.Default;

    public static void NoOverlap<T>(ReadOnlySpan<T> input, Span<T> output, string inputName, string outputName)
    {
        if (!input.IsEmpty && !output.IsEmpty && input.Overlaps(output))
        {
            throw new ArgumentException($"{outputName} must not overlap {inputName}.", outputName);
        }
    }
}
