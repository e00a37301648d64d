using System.Runtime.InteropServices;

namespace ShampooMkl.Native;

/// <summary>Where each backend's library is looked for on the current platform, in order.</summary>
/// <remarks>Mirrors native/manifest/*.json, which the build-time check reads; the runtime keeps its own
/// copy so that a published application needs no manifest file next to it.</remarks>
internal static class NativeLibraryCandidates
{
    /// <summary>Environment variable that forces a backend: <c>mkl</c> or <c>openblas</c>.</summary>
    public const string BackendVariable = "SHAMPOO_BLAS";

    /// <summary>Environment variable naming an exact library file to try first.</summary>
    public const string PathVariable = "SHAMPOO_BLAS_PATH";

    /// <summary>Environment variable choosing MKL's threading layer: sequential, gnu or intel.</summary>
    public const string MklThreadingVariable = "SHAMPOO_MKL_THREADING";

    public static IReadOnlyList<string> For(BlasBackendKind kind)
    {
        var list = new List<string>();
        var forced = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(forced) && MatchesKind(forced, kind))
        {
            list.Add(forced);
        }

        if (OperatingSystem.IsLinux())
        {
            list.AddRange(kind switch
            {
                BlasBackendKind.Mkl =>
                [
                    "libmkl_rt.so", "libmkl_rt.so.2", "libmkl_rt.so.1",
                    "/usr/lib/x86_64-linux-gnu/libmkl_rt.so",
                    "/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.so.2",
                    "/opt/intel/oneapi/mkl/latest/lib/intel64/libmkl_rt.so.2",
                ],
                _ =>
                [
                    "libopenblas.so.0", "libopenblas.so",
                    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
                    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
                ],
            });
        }
        else if (OperatingSystem.IsMacOS())
        {
            list.AddRange(kind switch
            {
                BlasBackendKind.Mkl => ["libmkl_rt.dylib", "libmkl_rt.2.dylib", "/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.dylib"],
                _ => ["libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib"],
            });
        }
        else if (OperatingSystem.IsWindows())
        {
            list.AddRange(kind switch
            {
                BlasBackendKind.Mkl => ["mkl_rt.2.dll", "mkl_rt.dll"],
                _ => ["libopenblas.dll", "openblas.dll"],
            });
        }

        return list;
    }

    public static string RuntimeIdentifier => RuntimeInformation.RuntimeIdentifier;

    private static bool MatchesKind(string path, BlasBackendKind kind)
    {
        var isMkl = Path.GetFileName(path).Contains("mkl", StringComparison.OrdinalIgnoreCase);
        return kind == BlasBackendKind.Mkl ? isMkl : !isMkl;
    }
}
