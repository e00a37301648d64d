using ShampooMkl.Analysis.Data;
using ShampooMkl.Cli.Errors;
using ShampooMkl.Linalg;

namespace ShampooMkl.Cli.Commands;

/// <summary>Checks a command makes before any work, so that a mistake in a path or a variable is reported at once, not
/// after an hour of training: every failure is a <see cref="UserInputException"/> naming the input.</summary>
internal static class Preflight
{
    /// <summary>The native environment: <c>SHAMPOO_BLAS</c> and <c>SHAMPOO_MKL_THREADING</c> parse, a backend loads, and a
    /// <c>SHAMPOO_BLAS_PATH</c> that is set is the library actually loaded (a path that fails to load is not ignored).</summary>
    /// <exception cref="UserInputException">With <see cref="ExitCodes.Environment"/>.</exception>
    public static void CheckNativeEnvironment()
    {
        var forced = Environment.GetEnvironmentVariable(BlasBackend.BackendVariable);
        if (!string.IsNullOrWhiteSpace(forced))
        {
            try
            {
                BlasBackend.ParseKind(forced);
            }
            catch (ArgumentException)
            {
                throw new UserInputException(
                    $"{BlasBackend.BackendVariable}='{forced}' is not a backend; set it to mkl or openblas, or unset it.", ExitCodes.Environment);
            }
        }

        BlasBackend backend;
        try
        {
            backend = BlasBackend.Default;
        }
        catch (ArgumentException e)
        {
            // The only ArgumentException loading raises is a malformed SHAMPOO_MKL_THREADING; its message names it.
            throw new UserInputException(e.Message, ExitCodes.Environment, e);
        }

        var path = Environment.GetEnvironmentVariable(BlasBackend.PathVariable);
        if (!string.IsNullOrWhiteSpace(path) && !SameFile(path, backend.LibraryPath))
        {
            throw new UserInputException(
                $"{BlasBackend.PathVariable}='{path}' was not used: it did not load as MKL or OpenBLAS (the backend is {backend.LibraryPath}). " +
                "Run 'shampoo-mkl doctor' to see why, fix the path, or unset it.", ExitCodes.Environment);
        }
    }

    /// <summary>The MNIST cache folder (<c>SHAMPOO_MKL_DATA</c> or the default) is not a file.</summary>
    /// <exception cref="UserInputException">With <see cref="ExitCodes.Files"/>.</exception>
    public static void CheckDataFolder()
    {
        var folder = MnistCache.DefaultFolder;
        if (File.Exists(folder))
        {
            throw new UserInputException(
                $"The MNIST cache '{folder}' ({MnistCache.EnvironmentVariable}) is a file; point {MnistCache.EnvironmentVariable} at a folder (it is created if missing).",
                ExitCodes.Files);
        }
    }

    /// <summary>An output file named by <paramref name="option"/> can be written: not a folder, its folder exists or can be
    /// created, and a file can be created there. Leaves nothing behind (an existing file is opened, never truncated).</summary>
    /// <exception cref="UserInputException">With <see cref="ExitCodes.Files"/>.</exception>
    public static void CheckWritableFile(string? path, string option)
    {
        if (path is null)
        {
            return;
        }

        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new UserInputException($"{option} '{full}' is a folder; give a file name.", ExitCodes.Files);
        }

        var folder = Path.GetDirectoryName(full)!;
        var probe = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.probe");
        try
        {
            if (File.Exists(full))
            {
                using (new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
                {
                }

                return;
            }

            Directory.CreateDirectory(folder);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The probe is ours: name the folder the user gave, not the probe file.
            var reason = e switch
            {
                UnauthorizedAccessException => "permission denied",
                FileNotFoundException or DirectoryNotFoundException => "no file can be created there",
                _ => e.Message.Replace(probe, folder, StringComparison.Ordinal),
            };
            throw new UserInputException($"{option} '{full}' cannot be written in '{folder}' ({reason.TrimEnd('.')}). Give a writable path.",
                ExitCodes.Files, e);
        }
    }

    private static bool SameFile(string configured, string loaded)
    {
        try
        {
            var a = new FileInfo(configured);
            var b = new FileInfo(loaded);
            var left = a.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? a.FullName;
            var right = b.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? b.FullName;
            return string.Equals(left, right, StringComparison.Ordinal) || string.Equals(configured, loaded, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
