using System.Diagnostics;
using System.Reflection;

namespace ShampooMkl.Cli.Commands;

/// <summary>Runs this command again under the Debian 13 runtime that <c>native/torch-runtime.sh</c> provisions, for systems
/// whose glibc/libstdc++ are too old for TorchSharp's native library (Debian 12).</summary>
/// <remarks>
/// The runtime is a copy of the <c>dotnet</c> host whose ELF interpreter is a newer glibc's loader, plus that glibc's
/// library folder. Only the child process sees them: <c>LD_LIBRARY_PATH</c> pointing there would break every system
/// program started from this process (they would mix two glibcs), so this process never sets it for itself. The child
/// inherits the console (its output and exit code are the user's) and carries <see cref="ChildMarker"/>, so it never
/// relaunches again.
/// </remarks>
internal static class TorchSharpRelaunch
{
    /// <summary>Set (to 1) in the child's environment.</summary>
    public const string ChildMarker = "SHAMPOO_TORCH_RELAUNCHED";

    /// <summary>The cache sub-folder <c>native/torch-runtime.sh</c> provisions.</summary>
    public const string RuntimeFolderName = "torch-runtime-trixie";

    /// <summary>The runtime's library folder below its root.</summary>
    private const string LibraryFolder = "root/usr/lib/x86_64-linux-gnu";

    /// <summary>A provisioned runtime: the patched host and the library folder the child needs on its <c>LD_LIBRARY_PATH</c>.</summary>
    public sealed record Runtime(string Host, string LibraryDirectory);

    /// <summary>True when this process is already the relaunched child.</summary>
    public static bool IsChild(Func<string, string?> environment) => environment(ChildMarker) == "1";

    /// <summary>The runtime folder: <c>${SHAMPOO_CACHE:-${XDG_CACHE_HOME:-~/.cache}/shampoo-mkl}/torch-runtime-trixie</c>,
    /// as <c>native/torch-runtime.sh</c> computes it.</summary>
    public static string RuntimeFolder(Func<string, string?> environment)
    {
        var cache = NonEmpty(environment("SHAMPOO_CACHE"));
        if (cache is null)
        {
            var xdg = NonEmpty(environment("XDG_CACHE_HOME"))
                ?? Path.Combine(NonEmpty(environment("HOME")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            cache = Path.Combine(xdg, "shampoo-mkl");
        }

        return Path.Combine(cache, RuntimeFolderName);
    }

    /// <summary>The provisioned runtime in <see cref="RuntimeFolder"/>, or null when its host or loader is missing.</summary>
    public static Runtime? FindProvisioned(Func<string, string?> environment)
    {
        var folder = RuntimeFolder(environment);
        var host = Path.Combine(folder, "dotnet", "dotnet");
        var libraries = Path.Combine(folder, LibraryFolder);
        return File.Exists(host) && File.Exists(Path.Combine(libraries, "ld-linux-x86-64.so.2")) ? new Runtime(host, libraries) : null;
    }

    /// <summary>How to start the child: <c>host application.dll arguments…</c> with the runtime's libraries first on
    /// <c>LD_LIBRARY_PATH</c>, <c>DOTNET_ROOT</c> at the host's folder and <see cref="ChildMarker"/> set; the console is inherited.</summary>
    public static ProcessStartInfo StartInfo(Runtime runtime, string application, IReadOnlyList<string> arguments, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var info = new ProcessStartInfo(runtime.Host) { UseShellExecute = false };
        info.ArgumentList.Add(application);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var inherited = NonEmpty(environment("LD_LIBRARY_PATH"));
        info.Environment["LD_LIBRARY_PATH"] = inherited is null ? runtime.LibraryDirectory : $"{runtime.LibraryDirectory}:{inherited}";
        info.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(runtime.Host)!;
        info.Environment[ChildMarker] = "1";
        return info;
    }

    /// <summary>Starts the child, waits for it and returns its exit code.</summary>
    /// <exception cref="System.ComponentModel.Win32Exception">The host could not be started.</exception>
    public static int Run(ProcessStartInfo info)
    {
        using var child = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {info.FileName}.");
        child.WaitForExit();
        return child.ExitCode;
    }

    /// <summary>This process's arguments after the program (what the user typed after <c>shampoo-mkl</c>).</summary>
    public static IReadOnlyList<string> CommandLineArguments() => Environment.GetCommandLineArgs()[1..];

    /// <summary>The application to relaunch: the entry assembly (<c>shampoo-mkl.dll</c>).</summary>
    public static string Application() =>
        Assembly.GetEntryAssembly()?.Location is { Length: > 0 } location ? location : Path.Combine(AppContext.BaseDirectory, "shampoo-mkl.dll");

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
