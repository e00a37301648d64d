using Microsoft.Win32.SafeHandles;
using ShampooMkl.Native;

namespace ShampooMkl.IO;

/// <summary>Opens the files the library reads as data (checkpoints, <c>.npy</c> arrays, indexes) only when they are
/// regular files, so a hostile or mistaken path fails at once instead of hanging or exhausting memory.</summary>
/// <remarks>
/// <para>A symbolic link is followed; what it finally names must be a regular file. A directory, a FIFO (whose open
/// would block until a writer appears), a socket or a device such as <c>/dev/zero</c> (endless) or <c>/dev/random</c>
/// is refused with an <see cref="InvalidDataException"/> naming the path and what it is, before it is opened. On Linux the
/// type comes from <c>statx</c> on the path, and again on the opened descriptor, so what is read is what was checked; elsewhere
/// .NET cannot tell the types apart without opening, so only directories and unseekable streams are refused.</para>
/// <para>The length of an opened file is its length when it was opened (<see cref="FileStream.Length"/>): readers
/// compare the sizes their headers declare with it before allocating anything of that size.</para>
/// </remarks>
public static class RegularFile
{
    private const int NoSuchFile = 2;

    /// <summary>Opens <paramref name="path"/> for reading (shared read access, sequential).</summary>
    /// <param name="path">A regular file, or a symbolic link to one.</param>
    /// <returns>The open stream; the caller disposes it.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">Nothing exists at <paramref name="path"/> (or a link's target is missing).</exception>
    /// <exception cref="InvalidDataException"><paramref name="path"/> is a directory, FIFO, socket or device, or a link to one.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Another I/O failure.</exception>
    public static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsLinux())
        {
            var error = Libc.StatPath(path, out var type, out _);
            if (error == NoSuchFile)
            {
                throw new FileNotFoundException($"Could not find file '{path}'.", path);
            }

            // Any other statx failure (permissions, a loop of links) is left to the open below, whose exception names it.
            if (error == 0 && type != Libc.RegularFileType)
            {
                throw NotRegular(path, type);
            }
        }
        else if (Directory.Exists(path))
        {
            throw NotRegular(path, Libc.DirectoryType);
        }

        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096, FileOptions.SequentialScan);
        try
        {
            CheckOpened(stream, path);
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads the whole of <paramref name="path"/>, refusing a file longer than <paramref name="maxBytes"/> before allocating.</summary>
    /// <param name="path">A regular file, or a symbolic link to one.</param>
    /// <param name="maxBytes">The largest length accepted, 0 … <see cref="Array.MaxLength"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is out of range.</exception>
    /// <exception cref="InvalidDataException">Not a regular file, longer than <paramref name="maxBytes"/>, or it changed length while being read.</exception>
    /// <exception cref="FileNotFoundException">Nothing exists at <paramref name="path"/>.</exception>
    /// <exception cref="IOException">Another I/O failure.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, Array.MaxLength);
        using var stream = OpenRead(path);
        var length = stream.Length;
        if (length > maxBytes)
        {
            throw new InvalidDataException($"'{path}' has {length} bytes, more than the {maxBytes} such a file may have.");
        }

        var bytes = new byte[length];
        ReadExactly(stream, bytes, path);
        return bytes;
    }

    /// <summary>Fills <paramref name="target"/> from <paramref name="stream"/> and checks that the file ends right after it.</summary>
    /// <exception cref="InvalidDataException">The file ended early or goes on (it changed while being read).</exception>
    internal static void ReadExactly(Stream stream, Span<byte> target, string path)
    {
        var total = 0;
        while (total < target.Length)
        {
            var read = stream.Read(target[total..]);
            if (read == 0)
            {
                throw new InvalidDataException($"'{path}' ended after {total} of {target.Length} bytes: it changed while being read.");
            }

            total += read;
        }

        Span<byte> probe = stackalloc byte[1];
        if (stream.Read(probe) != 0)
        {
            throw new InvalidDataException($"'{path}' grew while being read: it changed while being read.");
        }
    }

    private static void CheckOpened(FileStream stream, string path)
    {
        if (OperatingSystem.IsLinux())
        {
            SafeFileHandle handle = stream.SafeFileHandle;
            var added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                if (Libc.StatDescriptor((int)handle.DangerousGetHandle(), out var type, out _) == 0 && type != Libc.RegularFileType)
                {
                    throw NotRegular(path, type);
                }
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }
        else if (!stream.CanSeek)
        {
            throw new InvalidDataException($"'{path}' is not a regular file (it cannot be seeked, like a pipe); give the path of a regular file.");
        }
    }

    private static InvalidDataException NotRegular(string path, int type)
    {
        var what = type switch
        {
            Libc.DirectoryType => "a directory",
            Libc.FifoType => "a FIFO (named pipe)",
            Libc.CharacterDeviceType => "a character device",
            Libc.BlockDeviceType => "a block device",
            Libc.SocketType => "a socket",
            _ => $"a special file (type 0x{type:X4})",
        };
        var link = LinkTarget(path);
        var shown = link is null ? $"'{path}' is {what}" : $"'{path}' is a symbolic link to '{link}', {what}";
        return new InvalidDataException($"{shown}, not a regular file; only regular files are read. Give the path of the file itself.");
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
