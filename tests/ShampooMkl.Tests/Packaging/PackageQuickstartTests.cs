using System.Xml.Linq;

namespace ShampooMkl.Tests.Packaging;

/// <summary>samples/PackageQuickstart, copied out of the repository with only the ShampooMkl package beside it (in the
/// artifacts/packages its own nuget.config points at), restored into empty NuGet folders, built and run: it exits 0
/// and prints that each of its claims holds.</summary>
public sealed class PackageQuickstartTests
{
    private const string Sample = "PackageQuickstart";

    [Fact]
    [Trait("Category", "Slow")]
    [Trait("Category", "Package")]
    public void Sample_RestoresThePackage_TrainsAndResumes()
    {
        var feed = PackageFeed.Find("ShampooMkl", "ShampooMkl.dll");
        var source = Path.Combine(feed.RepositoryRoot, "samples", Sample);
        var referenced = XDocument.Load(Path.Combine(source, $"{Sample}.csproj")).Descendants("PackageReference")
            .Single(r => r.Attribute("Include")?.Value == "ShampooMkl").Attribute("Version")?.Value;
        Assert.True(referenced == feed.Version,
            $"samples/{Sample}/{Sample}.csproj references ShampooMkl {referenced}, the build packs {feed.Version}: update its PackageReference.");

        using var nuget = new IsolatedNuGet();
        var copy = Path.Combine(nuget.Root, "samples", Sample);
        CopySources(source, copy);
        var localFeed = Directory.CreateDirectory(Path.Combine(nuget.Root, "artifacts", "packages")).FullName;
        File.Copy(feed.PackagePath("ShampooMkl"), Path.Combine(localFeed, Path.GetFileName(feed.PackagePath("ShampooMkl"))));

        var build = ProcessRun.Start("dotnet", ["build", "-c", "Release", "--disable-build-servers", "-nodeReuse:false"],
            copy, nuget.Environment, TimeSpan.FromMinutes(5));
        Assert.True(build.ExitCode == 0, build.Transcript);
        Assert.True(Directory.Exists(Path.Combine(nuget.Root, "packages", "shampoomkl", feed.Version)),
            $"ShampooMkl {feed.Version} was not restored into the isolated packages folder.{Environment.NewLine}{build.Transcript}");

        var run = ProcessRun.Start("dotnet", [Path.Combine("bin", "Release", "net10.0", $"{Sample}.dll")],
            copy, nuget.Environment, TimeSpan.FromMinutes(3));
        Assert.True(run.ExitCode == 0, run.Transcript);
        Assert.Contains("PASS: Shampoo² (RecommendedShampooSquared) reaches a lower loss than AdamW", run.Output);
        Assert.Contains("PASS: SetLearningRate after step", run.Output);
        Assert.Contains("PASS: the bias group overrides only WeightDecay and inherits the default schedule", run.Output);
        Assert.Contains("ends bit for bit where the uninterrupted run ended", run.Output);
        Assert.DoesNotContain("FAIL:", run.Output);
        Assert.Contains("All claims hold.", run.Output);
    }

    /// <summary>The sample's own files (sources, project, nuget.config, Directory.Build.props), without build outputs.</summary>
    private static void CopySources(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
