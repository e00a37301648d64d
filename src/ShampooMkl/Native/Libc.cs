using System.Runtime.InteropServices;

namespace ShampooMkl.Native;

/// <summary>The one libc call we need: dlopen with RTLD_GLOBAL, which <see cref="NativeLibrary"/> cannot do.</summary>
/// <remarks>MKL's GNU threading layer resolves <c>omp_*</c> symbols from the global namespace; if libgomp is
/// not there, the process dies on an undefined symbol instead of throwing, so we load it globally first.</remarks>
internal static partial class Libc
{
    private const int RtldNow = 0x2;
    private const int RtldGlobal = 0x100;

    [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string fileName, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial nint DlError();

    /// <summary>Loads a library into the global symbol namespace; returns an error text on failure.</summary>
    public static string? LoadGlobal(string fileName)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "RTLD_GLOBAL loading is only implemented on Linux";
        }

        try
        {
            if (DlOpen(fileName, RtldNow | RtldGlobal) != 0)
            {
                return null;
            }

            return Marshal.PtrToStringUTF8(DlError()) ?? "dlopen failed";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return e.Message;
        }
    }
}
