using System.Runtime.InteropServices;

namespace ShampooMkl.Native;

/// <summary>The libc calls we need: dlopen with RTLD_GLOBAL, which <see cref="NativeLibrary"/> cannot do, and Linux's
/// statx, the one way to learn a file's type (regular, FIFO, device, …) without opening it.</summary>
/// <remarks>MKL's GNU threading layer resolves <c>omp_*</c> symbols from the global namespace; if libgomp is
/// not there, the process dies on an undefined symbol instead of throwing, so we load it globally first.
/// .NET reports a FIFO, a socket and a device as ordinary files, and opening a FIFO for reading blocks until a
/// writer appears, so the type has to be read from the path (or an open descriptor) by statx.</remarks>
internal static unsafe partial class Libc
{
    /// <summary><c>S_IFMT</c>: the file-type bits of <c>st_mode</c>.</summary>
    public const int FileTypeMask = 0xF000;

    /// <summary><c>S_IFREG</c>, <c>S_IFDIR</c>, <c>S_IFLNK</c>, <c>S_IFIFO</c>, <c>S_IFCHR</c>, <c>S_IFBLK</c>, <c>S_IFSOCK</c>.</summary>
    public const int RegularFileType = 0x8000, DirectoryType = 0x4000, SymbolicLinkType = 0xA000, FifoType = 0x1000,
        CharacterDeviceType = 0x2000, BlockDeviceType = 0x6000, SocketType = 0xC000;

    private const int RtldNow = 0x2;
    private const int RtldGlobal = 0x100;

    // statx(2): the same values and the same struct statx layout on every Linux architecture.
    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const uint StatxSize = 0x200;
    private const int StatxBufferLength = 256;
    private const int StatxModeOffset = 28;
    private const int StatxSizeOffset = 40;

    [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string fileName, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial nint DlError();

    [LibraryImport("libc.so.6", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int directoryFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>Loads a library into the global symbol namespace; returns an error text on failure.</summary>
    public static string? LoadGlobal(string fileName)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "RTLD_GLOBAL loading is only implemented on Linux";
        }

        try
        {
            // Binds dlerror's stub (the runtime's own dlsym on first call would clear the error we want) and
            // clears any earlier error.
            _ = DlError();
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

    /// <summary>statx of <paramref name="path"/>, symbolic links followed (Linux only): 0 and the type bits and size, or errno.</summary>
    public static int StatPath(string path, out int fileType, out long size) => Stat(AtFdCwd, path, 0, out fileType, out size);

    /// <summary>statx of an open file descriptor (Linux only): 0 and the type bits and size, or errno.</summary>
    public static int StatDescriptor(int descriptor, out int fileType, out long size) => Stat(descriptor, "", AtEmptyPath, out fileType, out size);

    private static int Stat(int directoryFd, string path, int flags, out int fileType, out long size)
    {
        var buffer = stackalloc byte[StatxBufferLength];
        new Span<byte>(buffer, StatxBufferLength).Clear();
        if (StatX(directoryFd, path, flags, StatxType | StatxSize, buffer) != 0)
        {
            fileType = 0;
            size = 0;
            return Marshal.GetLastPInvokeError();
        }

        fileType = *(ushort*)(buffer + StatxModeOffset) & FileTypeMask;
        size = *(long*)(buffer + StatxSizeOffset);
        return 0;
    }
}
