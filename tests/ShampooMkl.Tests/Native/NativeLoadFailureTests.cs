using System.Runtime.InteropServices;
using ShampooMkl.Native;
using ShampooMkl.Tests.Training;

namespace ShampooMkl.Tests.Native;

/// <summary>What a user reads when a library does not load: the loader's own reason for a file that exists, "not found" for
/// one that does not, and an install line for their OS that needs nothing from this repository.</summary>
public class NativeLoadFailureTests
{
    [Fact]
    public void CorruptLibrary_ReportsTheLoadersReasonAndTheFile()
    {
        using var folder = new TemporaryFolder();
        var corrupt = Path.Combine(folder.Path, "libopenblas.so.0");
        File.WriteAllText(corrupt, "not a shared library\n");
        Func<string, string?> env = name => name == NativeLibraryCandidates.PathVariable ? corrupt : null;
        var attempts = new List<string>();

        var forced = NativeLibraryCandidates.For(BlasBackendKind.OpenBlas, OSPlatform.Linux, Architecture.X64, folder.Path, env).Take(1);
        var lib = BlasLibrary.LoadFirst(BlasBackendKind.OpenBlas, forced, attempts);
        var message = BlasLibrary.Failure(BlasBackendKind.OpenBlas, attempts).Message;

        Assert.Null(lib);
        var line = Assert.Single(attempts);
        Assert.StartsWith($"OpenBlas: {corrupt}: exists but is not loadable: ", line, StringComparison.Ordinal);
        Assert.Contains(corrupt + ": ", line[line.IndexOf("loadable: ", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Contains("file too short", line, StringComparison.Ordinal); // glibc's dlerror for a file shorter than an ELF header
        Assert.DoesNotContain("Unable to load shared library", line, StringComparison.Ordinal);
        Assert.Contains(line, message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingLibrary_SaysNotFound_AndEndsWithThisOsInstallLine()
    {
        var attempts = new List<string>();
        NativeLibraryCandidate[] missing = [new("/nonexistent/shampoo/libopenblas.so.0", ["/nonexistent/shampoo/libopenblas.so.0"]), new("libshampoo-absent.so.7", ["libshampoo-absent.so.7"])];

        var lib = BlasLibrary.LoadFirst(BlasBackendKind.OpenBlas, missing, attempts);
        var message = BlasLibrary.Failure(BlasBackendKind.OpenBlas, attempts).Message;

        Assert.Null(lib);
        Assert.Equal(["OpenBlas: /nonexistent/shampoo/libopenblas.so.0: not found", "OpenBlas: libshampoo-absent.so.7: not found"], attempts);
        Assert.EndsWith(NativeInstallAdvice.BlasForThisMachine, message, StringComparison.Ordinal);
        Assert.Contains("sudo apt-get install libopenblas0", message, StringComparison.Ordinal);
        Assert.DoesNotContain("provision.sh", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Linux", Architecture.X64, new[] { "sudo apt-get install libopenblas0", "sudo dnf install openblas", "intel-mkl", "pip install mkl" })]
    [InlineData("Linux", Architecture.Arm64, new[] { "sudo apt-get install libopenblas0", "sudo dnf install openblas", "x86-64 only" })]
    [InlineData("OSX", Architecture.Arm64, new[] { "brew install openblas" })]
    [InlineData("OSX", Architecture.X64, new[] { "brew install openblas", "pip install mkl" })]
    [InlineData("Windows", Architecture.X64, new[] { "oneAPI installer", "pip install mkl", "vcpkg install openblas:x64-windows", "PATH", "ONEAPI_ROOT" })]
    public void BlasAdvice_GivesEachOsInstallLine_TheOverrideAndDoctor(string os, Architecture architecture, string[] expected)
    {
        var advice = NativeInstallAdvice.Blas(OSPlatform.Create(os.ToUpperInvariant()), architecture);

        foreach (var text in expected)
        {
            Assert.Contains(text, advice, StringComparison.Ordinal);
        }

        Assert.Contains(NativeLibraryCandidates.PathVariable, advice, StringComparison.Ordinal);
        Assert.Contains("shampoo-mkl doctor", advice, StringComparison.Ordinal);
        Assert.DoesNotContain("provision", advice, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', advice);
    }

    [Theory]
    [InlineData("Linux", "sudo apt-get install openmpi-bin")]
    [InlineData("OSX", "brew install open-mpi")]
    [InlineData("Windows", "no Windows build")]
    public void MpiAdvice_GivesEachOsLine_AndTheOverride(string os, string expected)
    {
        var advice = NativeInstallAdvice.Mpi(OSPlatform.Create(os.ToUpperInvariant()));

        Assert.Contains(expected, advice, StringComparison.Ordinal);
        Assert.Contains(MpiLibrary.PathVariable, advice, StringComparison.Ordinal);
        Assert.DoesNotContain("provision", advice, StringComparison.Ordinal);
    }

    [Fact]
    public void LoaderReason_KeepsTheFirstRealDlerrorLine_AndTheWindowsLoadLibraryText()
    {
        const string linux = "Unable to load shared library '/x/libopenblas.so.0' or one of its dependencies. In order to help diagnose ...: \n" +
                             "/dotnet/shared//x/libopenblas.so.0: cannot open shared object file: No such file or directory\n" +
                             "/x/libopenblas.so.0: invalid ELF header\n";
        const string absent = "Unable to load shared library 'libx.so' or one of its dependencies. ...: \n/a/libx.so: cannot open shared object file: No such file or directory\n";
        const string windows = @"Unable to load DLL 'C:\app\mkl_rt.2.dll' or one of its dependencies: The specified module could not be found. (0x8007007E)";

        Assert.Equal("/x/libopenblas.so.0: invalid ELF header", NativeLibraryProbe.LoaderReason(linux, exists: true));
        Assert.Null(NativeLibraryProbe.LoaderReason(absent, exists: false));
        Assert.Equal("The specified module could not be found. (0x8007007E)", NativeLibraryProbe.LoaderReason(windows, exists: true));
        Assert.Null(NativeLibraryProbe.LoaderReason(windows, exists: false));
    }
}
