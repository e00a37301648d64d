using ShampooMkl.Cli.Commands;
using ShampooMkl.Tests.Training;

namespace ShampooMkl.Tests.Cli;

/// <summary>Where the provisioned TorchSharp runtime is looked for, and how the relaunched child is started: the runtime's
/// libraries reach the child only.</summary>
public sealed class TorchSharpRelaunchTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void RuntimeFolder_FollowsTheProvisioningScript()
    {
        Assert.Equal("/c/torch-runtime-trixie", TorchSharpRelaunch.RuntimeFolder(Environment(("SHAMPOO_CACHE", "/c"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h"))));
        Assert.Equal("/x/shampoo-mkl/torch-runtime-trixie", TorchSharpRelaunch.RuntimeFolder(Environment(("XDG_CACHE_HOME", "/x"), ("HOME", "/h"))));
        Assert.Equal("/h/.cache/shampoo-mkl/torch-runtime-trixie", TorchSharpRelaunch.RuntimeFolder(Environment(("SHAMPOO_CACHE", " "), ("HOME", "/h"))));
    }

    [Fact]
    public void FindProvisioned_NeedsTheHostAndTheLoader()
    {
        using var folder = new TemporaryFolder();
        var environment = Environment(("SHAMPOO_CACHE", folder.Path));
        Assert.Null(TorchSharpRelaunch.FindProvisioned(environment));

        var runtime = Path.Combine(folder.Path, "torch-runtime-trixie");
        var host = Path.Combine(runtime, "dotnet", "dotnet");
        Directory.CreateDirectory(Path.GetDirectoryName(host)!);
        File.WriteAllText(host, "");
        Assert.Null(TorchSharpRelaunch.FindProvisioned(environment));

        var libraries = Path.Combine(runtime, "root", "usr", "lib", "x86_64-linux-gnu");
        Directory.CreateDirectory(libraries);
        File.WriteAllText(Path.Combine(libraries, "ld-linux-x86-64.so.2"), "");
        Assert.Equal(new TorchSharpRelaunch.Runtime(host, libraries), TorchSharpRelaunch.FindProvisioned(environment));
    }

    [Fact]
    public void StartInfo_RunsTheSameCommandWithTheRuntimeOnlyInTheChild()
    {
        var runtime = new TorchSharpRelaunch.Runtime("/r/dotnet/dotnet", "/r/root/usr/lib/x86_64-linux-gnu");
        string[] arguments = ["train", "--framework", "torchsharp", "--plot", "a b.png"];

        var info = TorchSharpRelaunch.StartInfo(runtime, "/app/shampoo-mkl.dll", arguments, Environment(("LD_LIBRARY_PATH", "/opt/mkl")));

        Assert.Equal("/r/dotnet/dotnet", info.FileName);
        Assert.False(info.UseShellExecute);
        Assert.False(info.RedirectStandardOutput);
        Assert.Equal(["/app/shampoo-mkl.dll", .. arguments], info.ArgumentList);
        Assert.Equal("/r/root/usr/lib/x86_64-linux-gnu:/opt/mkl", info.Environment["LD_LIBRARY_PATH"]);
        Assert.Equal("/r/dotnet", info.Environment["DOTNET_ROOT"]);
        Assert.Equal("1", info.Environment[TorchSharpRelaunch.ChildMarker]);
        Assert.True(TorchSharpRelaunch.IsChild(name => info.Environment.TryGetValue(name, out var value) ? value : null));
        Assert.False(TorchSharpRelaunch.IsChild(Environment()));

        var alone = TorchSharpRelaunch.StartInfo(runtime, "/app/shampoo-mkl.dll", arguments, Environment());
        Assert.Equal("/r/root/usr/lib/x86_64-linux-gnu", alone.Environment["LD_LIBRARY_PATH"]);
    }
}
