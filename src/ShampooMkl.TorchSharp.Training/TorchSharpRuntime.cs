using System.Runtime.InteropServices;
using TorchSharp;

namespace ShampooMkl.TorchSharp.Training;

/// <summary>Whether TorchSharp's native library can load in this process, found out without starting TorchSharp.</summary>
/// <remarks>When <c>libLibTorchSharp</c> does not load, TorchSharp's own start-up copies the whole libtorch package
/// (about 0.5 GB) into a <c>cpu/</c> folder beside the application before it fails with a misleading message about a
/// missing package reference. This probe asks the platform loader for the library the way TorchSharp's first attempt
/// does (next to TorchSharp.dll, as the application's dependency manifest places it) and nothing else; after a success
/// the library stays loaded and TorchSharp's own start-up finds it.</remarks>
public static class TorchSharpRuntime
{
    /// <summary>The native library TorchSharp binds to.</summary>
    public const string NativeLibraryName = "LibTorchSharp";

    /// <summary>True when TorchSharp's native library loads here; otherwise false with the loader's reason in one line
    /// (the error of the candidate file that exists, e.g. a missing <c>GLIBCXX</c> version).</summary>
    public static bool TryLoadNative(out string? reason)
    {
        try
        {
            var handle = NativeLibrary.Load(NativeLibraryName, typeof(torch).Assembly, null);
            reason = null;
            return handle != IntPtr.Zero;
        }
        catch (DllNotFoundException e)
        {
            reason = Reason(e.Message);
            return false;
        }
        catch (BadImageFormatException e)
        {
            reason = FirstLine(e.Message);
            return false;
        }
    }

    // The runtime lists every path it tried, one per line, after a generic first line; the interesting one is the file
    // that exists but does not load.
    private static string Reason(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Skip(1).FirstOrDefault(l => !l.EndsWith("No such file or directory", StringComparison.Ordinal))
            ?? $"no {NativeLibraryName} library was found beside TorchSharp.dll (is a libtorch package such as TorchSharp-cpu referenced?)";
    }

    private static string FirstLine(string text)
    {
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        return (newline < 0 ? text : text[..newline]).Trim();
    }
}
