namespace ShampooMkl.Tests.Packaging;

/// <summary>The shampoo-mkl tool installed from artifacts/packages as a user installs it (<c>dotnet tool install
/// --add-source</c>, into a temporary tool path with its own NuGet folders): it finds the native libraries and passes
/// <c>doctor</c>, and says plainly that it carries no libtorch.</summary>
public sealed class ToolPackageTests
{
    [Fact]
    [Trait("Category", "Package")]
    public void InstalledTool_RunsDoctor()
    {
        using var nuget = new IsolatedNuGet();
        var command = Install(nuget);

        // Small sizes: this checks loading, symbols and correctness; the speed figures are not the point here.
        var doctor = ProcessRun.Start(command, ["doctor", "--gemm-size", "64", "--eigen-size", "32", "--repetitions", "1"],
            nuget.Root, nuget.Environment, TimeSpan.FromMinutes(2));
        Assert.True(doctor.ExitCode == 0, doctor.Transcript);
        Assert.Contains("All loaded backends passed the symbol and smoke checks.", doctor.Output);
        Assert.Contains("Default backend: ", doctor.Output);
        Assert.DoesNotContain("FAIL:", doctor.Output);
    }

    [Fact]
    [Trait("Category", "Package")]
    public void InstalledTool_TorchSharpTraining_SaysLibTorchIsNotIncluded()
    {
        using var nuget = new IsolatedNuGet();
        var command = Install(nuget);

        var train = ProcessRun.Start(command, ["train", "--framework", "torchsharp", "--epochs", "1"],
            nuget.Root, nuget.Environment, TimeSpan.FromMinutes(2));
        Assert.True(train.ExitCode == 3, train.Transcript);
        Assert.Contains("This shampoo-mkl has no libtorch", train.Output + train.Error);
        Assert.Contains("--framework core", train.Output + train.Error);
    }

    /// <summary>Installs the packed tool into <paramref name="nuget"/>'s folder; returns the command's path.</summary>
    private static string Install(IsolatedNuGet nuget)
    {
        var feed = PackageFeed.Find("shampoo-mkl", "shampoo-mkl.dll");
        var toolPath = Path.Combine(nuget.Root, "tools");
        var install = ProcessRun.Start("dotnet",
            ["tool", "install", "--tool-path", toolPath, "shampoo-mkl", "--add-source", feed.Folder, "--version", feed.Version,
                "--configfile", nuget.ConfigFile],
            nuget.Root, nuget.Environment, TimeSpan.FromMinutes(3));
        Assert.True(install.ExitCode == 0, install.Transcript);
        Assert.Contains($"'shampoo-mkl' (version '{feed.Version}') was successfully installed", install.Output);
        return Path.Combine(toolPath, OperatingSystem.IsWindows() ? "shampoo-mkl.exe" : "shampoo-mkl");
    }
}
