namespace ShampooMkl.Native;

/// <summary>Thrown when no usable BLAS/LAPACK library could be loaded; the message holds every attempt.</summary>
public sealed class NativeLoadException : Exception
{
    /// <summary>The README command that installs the native libraries on Debian/Ubuntu.</summary>
    public const string InstallHint = "Install the native libraries with `bash native/provision.sh` (or `./build.sh --target=Native`), " +
                                      "or point SHAMPOO_BLAS_PATH at a libmkl_rt / libopenblas file.";

    public NativeLoadException(string message, IReadOnlyList<string> attempts)
        : this(message, attempts, InstallHint)
    {
    }

    /// <summary>A failure whose fix is not the BLAS one (e.g. MPI); <paramref name="hint"/> replaces <see cref="InstallHint"/>.</summary>
    public NativeLoadException(string message, IReadOnlyList<string> attempts, string hint)
        : base(Compose(message, attempts, hint))
    {
        Attempts = attempts;
    }

    /// <summary>Each library path or symbol that was tried, with the reason it failed.</summary>
    public IReadOnlyList<string> Attempts { get; }

    private static string Compose(string message, IReadOnlyList<string> attempts, string hint) =>
        message + Environment.NewLine +
        "Tried:" + Environment.NewLine +
        string.Join(Environment.NewLine, attempts.Select(a => "  - " + a)) + Environment.NewLine +
        hint;
}
