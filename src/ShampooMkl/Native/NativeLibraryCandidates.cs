using System.Runtime.InteropServices;

namespace ShampooMkl.Native;

/// <summary>Which library files each backend is looked for under, and where, per operating system and architecture.</summary>
/// <remarks>
/// <para>The file lists (<see cref="Listed"/>, <see cref="ListedMpi"/>) are the <c>libraries</c> arrays of
/// native/manifest/RID.json, in the same order; the runtime keeps its own copy so that a published or AOT-compiled
/// application needs no manifest file and no JSON parsing at load, and a test fails when the two diverge.</para>
/// <para>A listed bare file name is searched for (<see cref="Expand"/>): on Windows in the application folder, each
/// <c>PATH</c> entry, then System32 (.NET's default DLL search skips <c>PATH</c>); on macOS in the application folder, each
/// <c>DYLD_LIBRARY_PATH</c> and <c>DYLD_FALLBACK_LIBRARY_PATH</c> entry, then by dlopen's own search; on Linux by the
/// application folder then dlopen (<c>LD_LIBRARY_PATH</c>, ld.so.cache). A listed absolute path is tried as is, after the
/// same path under <c>%ONEAPI_ROOT%</c> / <c>$ONEAPI_ROOT</c> when it lies in oneAPI's default folder.</para>
/// <para>Every function taking an <see cref="OSPlatform"/> is pure (the environment is a parameter) so tests check the
/// Windows and macOS orders on any machine.</para>
/// </remarks>
internal static class NativeLibraryCandidates
{
    /// <summary>Environment variable that forces a backend: <c>mkl</c> or <c>openblas</c>.</summary>
    public const string BackendVariable = "SHAMPOO_BLAS";

    /// <summary>Environment variable naming an exact library file to try first.</summary>
    public const string PathVariable = "SHAMPOO_BLAS_PATH";

    /// <summary>Environment variable choosing MKL's threading layer: sequential, gnu or intel.</summary>
    public const string MklThreadingVariable = "SHAMPOO_MKL_THREADING";

    /// <summary>Environment variable of a oneAPI installation's root folder (set by its <c>setvars</c> script).</summary>
    public const string OneApiRootVariable = "ONEAPI_ROOT";

    /// <summary>oneAPI's default root on Windows, as written in native/manifest/win-x64.json.</summary>
    public const string WindowsOneApiRoot = @"C:\Program Files (x86)\Intel\oneAPI";

    /// <summary>oneAPI's default root on Linux and macOS.</summary>
    public const string UnixOneApiRoot = "/opt/intel/oneapi";

    /// <summary>The operating system this process runs on (Linux, macOS or Windows; anything else counts as Linux).</summary>
    public static OSPlatform CurrentOS =>
        OperatingSystem.IsWindows() ? OSPlatform.Windows : OperatingSystem.IsMacOS() ? OSPlatform.OSX : OSPlatform.Linux;

    /// <summary>The manifest name for <paramref name="os"/> and <paramref name="architecture"/> (<c>linux-x64</c>, <c>osx-arm64</c>,
    /// <c>win-x64</c>, ...), or null for a pair with no manifest.</summary>
    public static string? ManifestRid(OSPlatform os, Architecture architecture)
    {
        var arch = architecture switch { Architecture.X64 => "x64", Architecture.Arm64 => "arm64", _ => null };
        if (arch is null)
        {
            return null;
        }

        if (os == OSPlatform.Linux)
        {
            return "linux-" + arch;
        }

        if (os == OSPlatform.OSX)
        {
            return "osx-" + arch;
        }

        return os == OSPlatform.Windows && arch == "x64" ? "win-x64" : null;
    }

    /// <summary>The BLAS files of <paramref name="kind"/> in manifest order for the platform; empty where the backend does
    /// not exist (MKL on arm64) or the platform has no manifest.</summary>
    public static IReadOnlyList<string> Listed(BlasBackendKind kind, OSPlatform os, Architecture architecture) =>
        (ManifestRid(os, architecture), kind) switch
        {
            ("linux-x64", BlasBackendKind.Mkl) =>
            [
                "libmkl_rt.so", "libmkl_rt.so.2", "libmkl_rt.so.1",
                "/usr/lib/x86_64-linux-gnu/libmkl_rt.so",
                "/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.so.2",
                "/opt/intel/oneapi/mkl/latest/lib/intel64/libmkl_rt.so.2",
            ],
            ("linux-x64", _) =>
            [
                "libopenblas.so.0", "libopenblas.so",
                "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
                "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
            ],
            ("linux-arm64", BlasBackendKind.OpenBlas) =>
            [
                "libopenblas.so.0", "libopenblas.so",
                "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
                "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
            ],
            ("osx-x64", BlasBackendKind.Mkl) =>
            [
                "libmkl_rt.dylib", "libmkl_rt.2.dylib",
                "/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.dylib",
                "/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.2.dylib",
            ],
            ("osx-x64", _) =>
            [
                "libopenblas.dylib", "libopenblas.0.dylib",
                "/usr/local/opt/openblas/lib/libopenblas.dylib",
                "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
            ],
            ("osx-arm64", BlasBackendKind.OpenBlas) =>
            [
                "libopenblas.dylib", "libopenblas.0.dylib",
                "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
                "/usr/local/opt/openblas/lib/libopenblas.dylib",
            ],
            ("win-x64", BlasBackendKind.Mkl) =>
            [
                "mkl_rt.2.dll", "mkl_rt.1.dll", "mkl_rt.dll",
                WindowsOneApiRoot + @"\mkl\latest\bin\mkl_rt.2.dll",
                WindowsOneApiRoot + @"\mkl\latest\redist\intel64\mkl_rt.2.dll",
            ],
            ("win-x64", _) => ["libopenblas.dll", "openblas.dll"],
            _ => [],
        };

    /// <summary>The libmpi files in manifest order for the platform. On Linux the unversioned <c>libmpi.so</c> comes last: on
    /// Debian it is an alternatives link that may point at MPICH, which the loader then rejects by name.</summary>
    public static IReadOnlyList<string> ListedMpi(OSPlatform os, Architecture architecture) => ManifestRid(os, architecture) switch
    {
        "linux-x64" =>
        [
            "libmpi.so.40",
            "/usr/lib/x86_64-linux-gnu/libmpi.so.40",
            "/usr/lib/x86_64-linux-gnu/openmpi/lib/libmpi.so",
            "/usr/lib64/openmpi/lib/libmpi.so.40",
            "libmpi.so",
        ],
        "linux-arm64" =>
        [
            "libmpi.so.40",
            "/usr/lib/aarch64-linux-gnu/libmpi.so.40",
            "/usr/lib/aarch64-linux-gnu/openmpi/lib/libmpi.so",
            "/usr/lib64/openmpi/lib/libmpi.so.40",
            "libmpi.so",
        ],
        "osx-x64" => ["libmpi.40.dylib", "/usr/local/opt/open-mpi/lib/libmpi.dylib", "/usr/local/lib/libmpi.dylib", "libmpi.dylib"],
        "osx-arm64" => ["libmpi.40.dylib", "/opt/homebrew/opt/open-mpi/lib/libmpi.dylib", "/opt/homebrew/lib/libmpi.dylib", "libmpi.dylib"],
        "win-x64" => ["msmpi.dll", @"C:\Windows\System32\msmpi.dll"],
        _ => [],
    };

    /// <summary>The Intel OpenMP runtime MKL's Intel threading layer needs: <c>libiomp5.so</c> (Linux), <c>libiomp5.dylib</c>
    /// (macOS), <c>libiomp5md.dll</c> (Windows).</summary>
    public static string IntelOpenMpLibrary(OSPlatform os) =>
        os == OSPlatform.Windows ? "libiomp5md.dll" : os == OSPlatform.OSX ? "libiomp5.dylib" : "libiomp5.so";

    /// <summary>Where the Intel OpenMP runtime is looked for, in order: beside the loaded MKL file
    /// (<paramref name="mklPath"/>; pip, conda and the oneAPI redistributable ship it there), then as any listed bare
    /// name (<see cref="Expand"/>), then oneAPI's compiler folder.</summary>
    public static IReadOnlyList<string> IntelOpenMpSearch(OSPlatform os, string? mklPath, string applicationFolder, Func<string, string?> environment)
    {
        var name = IntelOpenMpLibrary(os);
        var listed = new List<string>();
        var mklFolder = DirectoryOf(os, mklPath);
        if (mklFolder is not null)
        {
            listed.Add(Join(os, mklFolder, name));
        }

        listed.Add(name);
        listed.Add(os == OSPlatform.Windows
            ? WindowsOneApiRoot + @"\compiler\latest\bin\" + name
            : UnixOneApiRoot + "/compiler/latest/lib/" + name);
        return Expand(listed, os, applicationFolder, environment).SelectMany(c => c.Paths).Distinct(Comparer(os)).ToList();
    }

    /// <summary>Every place <paramref name="kind"/> is tried on this machine: <see cref="PathVariable"/> first when it names a
    /// file of this kind, then <see cref="Listed"/> expanded by <see cref="Expand"/>.</summary>
    public static IReadOnlyList<NativeLibraryCandidate> For(BlasBackendKind kind) =>
        For(kind, CurrentOS, RuntimeInformation.ProcessArchitecture, AppContext.BaseDirectory, Environment.GetEnvironmentVariable);

    /// <summary><see cref="For(BlasBackendKind)"/> for any platform and environment.</summary>
    public static IReadOnlyList<NativeLibraryCandidate> For(BlasBackendKind kind, OSPlatform os, Architecture architecture,
        string applicationFolder, Func<string, string?> environment)
    {
        var listed = new List<string>();
        var forced = environment(PathVariable);
        if (!string.IsNullOrWhiteSpace(forced) && MatchesKind(forced, kind))
        {
            listed.Add(forced.Trim());
        }

        listed.AddRange(Listed(kind, os, architecture));
        return Expand(listed, os, applicationFolder, environment);
    }

    /// <summary>Turns listed files into the paths to try for each: a bare name into one path per search folder of
    /// <paramref name="os"/> (see the type's remarks), an absolute path into itself, preceded by its
    /// <see cref="OneApiRootVariable"/> counterpart when it lies under oneAPI's default root. Duplicates are dropped.</summary>
    public static IReadOnlyList<NativeLibraryCandidate> Expand(IEnumerable<string> listed, OSPlatform os, string applicationFolder, Func<string, string?> environment)
    {
        var result = new List<NativeLibraryCandidate>();
        var seen = new HashSet<string>(Comparer(os));
        foreach (var entry in listed)
        {
            var paths = new List<string>();
            if (IsAbsolute(os, entry))
            {
                if (OneApiCounterpart(os, entry, environment(OneApiRootVariable)) is { } moved)
                {
                    paths.Add(moved);
                }

                paths.Add(entry);
            }
            else if (os == OSPlatform.Windows)
            {
                paths.Add(Join(os, applicationFolder, entry));
                paths.AddRange(SearchPath(environment("PATH"), ';').Select(d => Join(os, d, entry)));
                paths.Add(Join(os, Join(os, environment("SystemRoot") ?? @"C:\Windows", "System32"), entry));
            }
            else if (os == OSPlatform.OSX)
            {
                paths.Add(Join(os, applicationFolder, entry));
                paths.AddRange(SearchPath(environment("DYLD_LIBRARY_PATH"), ':').Select(d => Join(os, d, entry)));
                paths.AddRange(SearchPath(environment("DYLD_FALLBACK_LIBRARY_PATH"), ':').Select(d => Join(os, d, entry)));
                paths.Add(entry);
            }
            else
            {
                // NativeLibrary tries the application folder, then dlopen's own search, for a bare name.
                paths.Add(entry);
            }

            var fresh = paths.Where(seen.Add).ToList();
            if (fresh.Count > 0)
            {
                result.Add(new NativeLibraryCandidate(entry, fresh));
            }
        }

        return result;
    }

    /// <summary>Whether <paramref name="path"/> is absolute on <paramref name="os"/> (a drive or UNC path on Windows, a leading
    /// slash elsewhere), independent of the machine running the check.</summary>
    public static bool IsAbsolute(OSPlatform os, string path) => os == OSPlatform.Windows
        ? (path.Length >= 3 && char.IsAsciiLetter(path[0]) && path[1] == ':' && path[2] is '\\' or '/') || path.StartsWith(@"\\", StringComparison.Ordinal)
        : path.StartsWith('/');

    private static string? OneApiCounterpart(OSPlatform os, string path, string? oneApiRoot)
    {
        if (string.IsNullOrWhiteSpace(oneApiRoot))
        {
            return null;
        }

        var defaultRoot = os == OSPlatform.Windows ? WindowsOneApiRoot : UnixOneApiRoot;
        var comparison = os == OSPlatform.Windows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (!path.StartsWith(defaultRoot, comparison))
        {
            return null;
        }

        var moved = oneApiRoot.Trim().TrimEnd('/', '\\') + path[defaultRoot.Length..];
        return string.Equals(moved, path, comparison) ? null : moved;
    }

    private static IEnumerable<string> SearchPath(string? value, char separator) =>
        (value ?? "").Split(separator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(d => d.Trim('"'));

    private static string Join(OSPlatform os, string folder, string name)
    {
        var separator = os == OSPlatform.Windows ? '\\' : '/';
        return folder.Length == 0 ? name : folder.TrimEnd('/', '\\') + separator + name;
    }

    private static string? DirectoryOf(OSPlatform os, string? path)
    {
        if (path is null || !IsAbsolute(os, path))
        {
            return null;
        }

        var cut = os == OSPlatform.Windows ? path.LastIndexOfAny(['\\', '/']) : path.LastIndexOf('/');
        return cut > 0 ? path[..cut] : null;
    }

    private static StringComparer Comparer(OSPlatform os) => os == OSPlatform.Windows ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    private static bool MatchesKind(string path, BlasBackendKind kind)
    {
        var isMkl = Path.GetFileName(path).Contains("mkl", StringComparison.OrdinalIgnoreCase);
        return kind == BlasBackendKind.Mkl ? isMkl : !isMkl;
    }
}
