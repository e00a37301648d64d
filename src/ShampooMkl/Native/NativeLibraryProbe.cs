using System.Reflection;
using System.Runtime.InteropServices;

namespace ShampooMkl.Native;

/// <summary>Loads the first path of a <see cref="NativeLibraryCandidate"/> that the OS loader accepts and, when none does,
/// keeps the loader's own reason (dlerror on Linux and macOS, the LoadLibrary error text on Windows) for the first file
/// that exists but does not load.</summary>
internal static class NativeLibraryProbe
{
    /// <summary>What a candidate's load attempt came to.</summary>
    /// <param name="Handle">The OS handle, or 0 when nothing loaded.</param>
    /// <param name="Path">The path that loaded, or the one whose failure <paramref name="Failure"/> describes.</param>
    /// <param name="Failure">Null on success; "not found" when no path exists; otherwise "exists but is not loadable: reason".</param>
    internal readonly record struct Outcome(nint Handle, string Path, string? Failure);

    /// <summary>Tries each path of <paramref name="candidate"/> in order (a bare name through the application folder and
    /// the loader's own search), returning the first that loads or the first real failure.</summary>
    public static Outcome TryLoad(NativeLibraryCandidate candidate, Assembly assembly)
    {
        Outcome? firstFailure = null;
        foreach (var path in candidate.Paths)
        {
            var rooted = Path.IsPathFullyQualified(path);
            if (rooted && !File.Exists(path))
            {
                continue;
            }

            try
            {
                var handle = rooted
                    ? NativeLibrary.Load(path)
                    : NativeLibrary.Load(path, assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory);
                return new Outcome(handle, path, null);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                if (firstFailure is null && LoaderReason(e.Message, rooted) is { } reason)
                {
                    firstFailure = new Outcome(0, path, "exists but is not loadable: " + reason);
                }
            }
        }

        return firstFailure ?? new Outcome(0, candidate.Listed, "not found");
    }

    /// <summary>The loader's reason within a .NET load-failure message, or null when it only says the file is absent.</summary>
    /// <remarks>On Linux and macOS .NET writes one dlerror line per variant it tried (application folder, with and without
    /// the lib prefix and suffix); the first line that is not "No such file or directory" is the real failure. On Windows
    /// the message is one line ending in the LoadLibrary text, which for a file that exists (<paramref name="exists"/>) is
    /// the reason (a missing dependency reads "The specified module could not be found").</remarks>
    internal static string? LoaderReason(string message, bool exists)
    {
        var lines = message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var detail = lines.Skip(1).FirstOrDefault(l => !l.EndsWith("No such file or directory", StringComparison.Ordinal) &&
                                                       !l.Contains("image not found", StringComparison.Ordinal) &&
                                                       !l.Contains("(no such file)", StringComparison.Ordinal));
        if (detail is not null)
        {
            return detail;
        }

        if (!exists)
        {
            return null;
        }

        var first = lines.FirstOrDefault() ?? message;
        var cut = first.IndexOf("dependencies:", StringComparison.Ordinal);
        return cut >= 0 ? first[(cut + "dependencies:".Length)..].Trim() : first.Trim();
    }
}
