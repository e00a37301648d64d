using System.Runtime.InteropServices;
using System.Text.Json;
using ShampooMkl.Native;

namespace ShampooMkl.Tests.Native;

/// <summary>The runtime's library lists against native/manifest/*.json, and the per-OS search order and names, checked for
/// Windows and macOS on any machine through the pure functions.</summary>
public class NativeLibraryCandidatesTests
{
    /// <summary>Every platform the runtime knows, with the manifest each must match.</summary>
    public static TheoryData<string, string, Architecture> Platforms => new()
    {
        { "linux-x64", "Linux", Architecture.X64 },
        { "linux-arm64", "Linux", Architecture.Arm64 },
        { "osx-x64", "OSX", Architecture.X64 },
        { "osx-arm64", "OSX", Architecture.Arm64 },
        { "win-x64", "Windows", Architecture.X64 },
    };

    [Theory]
    [MemberData(nameof(Platforms))]
    public void RuntimeLists_EqualTheManifest_InOrder(string rid, string os, Architecture architecture)
    {
        var platform = OSPlatform.Create(os.ToUpperInvariant());
        using var manifest = JsonDocument.Parse(File.ReadAllText(ManifestPath(rid)));
        var backends = manifest.RootElement.GetProperty("backends");

        Assert.Equal(rid, NativeLibraryCandidates.ManifestRid(platform, architecture));
        Assert.Equal(Libraries(backends, "mkl"), NativeLibraryCandidates.Listed(BlasBackendKind.Mkl, platform, architecture));
        Assert.Equal(Libraries(backends, "openblas"), NativeLibraryCandidates.Listed(BlasBackendKind.OpenBlas, platform, architecture));
        Assert.Equal(Libraries(backends, "mpi"), NativeLibraryCandidates.ListedMpi(platform, architecture));
    }

    [Fact]
    public void EveryManifest_IsAPlatformTheRuntimeKnows()
    {
        var known = Platforms.Select(row => (string)row[0]).Order(StringComparer.Ordinal).ToArray();
        var manifests = Directory.GetFiles(Path.GetDirectoryName(ManifestPath("linux-x64"))!, "*.json")
            .Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(manifests, known);
    }

    [Fact]
    public void Windows_SearchesAppFolderThenEachPathEntryThenSystem32_ThenOneApiRootBeforeTheDefaultOneApiFolder()
    {
        var env = Environment(("PATH", @"C:\tools\bin;;""D:\blas\bin"""), ("SystemRoot", @"C:\WINDOWS"), ("ONEAPI_ROOT", @"E:\oneAPI\"));

        var candidates = NativeLibraryCandidates.For(BlasBackendKind.Mkl, OSPlatform.Windows, Architecture.X64, @"C:\app\", env);

        Assert.Equal(["mkl_rt.2.dll", "mkl_rt.1.dll", "mkl_rt.dll", NativeLibraryCandidates.WindowsOneApiRoot + @"\mkl\latest\bin\mkl_rt.2.dll",
            NativeLibraryCandidates.WindowsOneApiRoot + @"\mkl\latest\redist\intel64\mkl_rt.2.dll"], candidates.Select(c => c.Listed));
        Assert.Equal([@"C:\app\mkl_rt.2.dll", @"C:\tools\bin\mkl_rt.2.dll", @"D:\blas\bin\mkl_rt.2.dll", @"C:\WINDOWS\System32\mkl_rt.2.dll"], candidates[0].Paths);
        Assert.Equal([@"E:\oneAPI\mkl\latest\bin\mkl_rt.2.dll", NativeLibraryCandidates.WindowsOneApiRoot + @"\mkl\latest\bin\mkl_rt.2.dll"], candidates[3].Paths);
    }

    [Fact]
    public void Windows_OpenBlas_WithoutPathOrSystemRoot_StillTriesAppFolderAndSystem32()
    {
        var candidates = NativeLibraryCandidates.For(BlasBackendKind.OpenBlas, OSPlatform.Windows, Architecture.X64, @"C:\app", Environment());

        Assert.Equal([@"C:\app\libopenblas.dll", @"C:\Windows\System32\libopenblas.dll"], candidates[0].Paths);
        Assert.Equal([@"C:\app\openblas.dll", @"C:\Windows\System32\openblas.dll"], candidates[1].Paths);
    }

    [Fact]
    public void MacOS_SearchesAppFolderThenDyldPathsThenDlopen_ThenHomebrew()
    {
        var env = Environment(("DYLD_LIBRARY_PATH", "/opt/blas/lib:/x"), ("DYLD_FALLBACK_LIBRARY_PATH", "/fallback"));

        var candidates = NativeLibraryCandidates.For(BlasBackendKind.OpenBlas, OSPlatform.OSX, Architecture.Arm64, "/Applications/App", env);

        Assert.Equal(["/Applications/App/libopenblas.dylib", "/opt/blas/lib/libopenblas.dylib", "/x/libopenblas.dylib", "/fallback/libopenblas.dylib",
            "libopenblas.dylib"], candidates[0].Paths);
        Assert.Equal(["/opt/homebrew/opt/openblas/lib/libopenblas.dylib"], candidates[2].Paths);
        Assert.Equal(["/usr/local/opt/openblas/lib/libopenblas.dylib"], candidates[3].Paths);
    }

    [Fact]
    public void MacOS_Mkl_TriesOneApiRootBeforeOptIntel_AndArm64HasNoMkl()
    {
        var env = Environment(("ONEAPI_ROOT", "/Users/me/intel/oneapi"));

        var candidates = NativeLibraryCandidates.For(BlasBackendKind.Mkl, OSPlatform.OSX, Architecture.X64, "/app", env);

        Assert.Equal(["/Users/me/intel/oneapi/mkl/latest/lib/libmkl_rt.dylib", "/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.dylib"], candidates[2].Paths);
        Assert.Empty(NativeLibraryCandidates.For(BlasBackendKind.Mkl, OSPlatform.OSX, Architecture.Arm64, "/app", env));
    }

    [Fact]
    public void Linux_LeavesBareNamesToTheLoader_AndPutsTheOverrideFirstOnlyForItsKind()
    {
        var env = Environment(("SHAMPOO_BLAS_PATH", "/opt/custom/libopenblas.so.0"));

        var openBlas = NativeLibraryCandidates.For(BlasBackendKind.OpenBlas, OSPlatform.Linux, Architecture.X64, "/app", env);
        var mkl = NativeLibraryCandidates.For(BlasBackendKind.Mkl, OSPlatform.Linux, Architecture.X64, "/app", env);

        Assert.Equal(["/opt/custom/libopenblas.so.0"], openBlas[0].Paths);
        Assert.Equal(["libopenblas.so.0"], openBlas[1].Paths);
        Assert.Equal(NativeLibraryCandidates.Listed(BlasBackendKind.Mkl, OSPlatform.Linux, Architecture.X64), mkl.Select(c => c.Listed));
    }

    [Fact]
    public void IntelOpenMp_HasEachOsName()
    {
        Assert.Equal("libiomp5.so", NativeLibraryCandidates.IntelOpenMpLibrary(OSPlatform.Linux));
        Assert.Equal("libiomp5.dylib", NativeLibraryCandidates.IntelOpenMpLibrary(OSPlatform.OSX));
        Assert.Equal("libiomp5md.dll", NativeLibraryCandidates.IntelOpenMpLibrary(OSPlatform.Windows));
    }

    [Fact]
    public void IntelOpenMp_IsLookedForBesideMklFirst_ThenOnTheSearchPath_ThenInOneApi()
    {
        var env = Environment(("PATH", @"C:\bin"));

        var windows = NativeLibraryCandidates.IntelOpenMpSearch(OSPlatform.Windows, @"C:\py\Library\bin\mkl_rt.2.dll", @"C:\app", env);
        var mac = NativeLibraryCandidates.IntelOpenMpSearch(OSPlatform.OSX, "/opt/intel/oneapi/mkl/latest/lib/libmkl_rt.dylib", "/app", Environment());

        Assert.Equal([@"C:\py\Library\bin\libiomp5md.dll", @"C:\app\libiomp5md.dll", @"C:\bin\libiomp5md.dll", @"C:\Windows\System32\libiomp5md.dll",
            NativeLibraryCandidates.WindowsOneApiRoot + @"\compiler\latest\bin\libiomp5md.dll"], windows);
        Assert.Equal(["/opt/intel/oneapi/mkl/latest/lib/libiomp5.dylib", "/app/libiomp5.dylib", "libiomp5.dylib",
            "/opt/intel/oneapi/compiler/latest/lib/libiomp5.dylib"], mac);
    }

    [Fact]
    public void IsAbsolute_FollowsTheTargetOs_NotTheMachine()
    {
        Assert.True(NativeLibraryCandidates.IsAbsolute(OSPlatform.Windows, @"C:\x\a.dll"));
        Assert.True(NativeLibraryCandidates.IsAbsolute(OSPlatform.Windows, @"\\server\share\a.dll"));
        Assert.False(NativeLibraryCandidates.IsAbsolute(OSPlatform.Windows, "a.dll"));
        Assert.False(NativeLibraryCandidates.IsAbsolute(OSPlatform.Windows, "/usr/lib/a.so"));
        Assert.True(NativeLibraryCandidates.IsAbsolute(OSPlatform.Linux, "/usr/lib/a.so"));
        Assert.False(NativeLibraryCandidates.IsAbsolute(OSPlatform.OSX, "libopenblas.dylib"));
    }

    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.Where(v => v.Name == name).Select(v => v.Value).FirstOrDefault();

    private static string[] Libraries(JsonElement backends, string backend) =>
        backends.GetProperty(backend).GetProperty("libraries").EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>native/manifest/RID.json of this checkout: the test binaries sit below tests/, beside native/.</summary>
    private static string ManifestPath(string rid)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "native", "manifest", rid + ".json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"native/manifest/{rid}.json not found above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
