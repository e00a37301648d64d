namespace ShampooMkl;

/// <summary>Thrown when no usable BLAS/LAPACK library could be loaded; the message holds every attempt.</summary>
/// <remarks>
/// Not wrapped per layer: the default backend is resolved lazily, so this can surface from any routine that takes an
/// optional backend (Linalg up to the CLI), and callers must be able to catch one type with the full load trace
/// wherever it came from. It lives in the root namespace, beside <see cref="BlasBackendKind"/>, so that catching it
/// needs no reference to <c>ShampooMkl.Native</c>; Native (BLAS and MPI loading) throws it.
/// </remarks>
public sealed class NativeLoadException : Exception
{
    /// <summary>How to install a BLAS/LAPACK backend on this machine's OS (the apt/dnf, Homebrew, pip/conda or Windows
    /// installer line), the <c>SHAMPOO_BLAS_PATH</c> override, and <c>shampoo-mkl doctor</c>.</summary>
    public static string InstallHint => NativeInstallAdvice.BlasForThisMachine;

    /// <summary>A BLAS/LAPACK load failure: <paramref name="message"/>, then each of <paramref name="attempts"/>, then
    /// <see cref="InstallHint"/>.</summary>
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
