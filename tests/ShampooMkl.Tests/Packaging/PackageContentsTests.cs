using System.IO.Compression;
using System.Xml.Linq;

namespace ShampooMkl.Tests.Packaging;

/// <summary>What artifacts/packages holds after <c>./build.sh --target=Pack</c>: each package's metadata (version,
/// licence, readme, tags, release notes), the symbols packages, and a tool package that is a tool and leaves libtorch out.</summary>
public sealed class PackageContentsTests
{
    [Theory]
    [Trait("Category", "Package")]
    [InlineData("ShampooMkl", "ShampooMkl.dll")]
    [InlineData("ShampooMkl.TorchSharp", "ShampooMkl.dll")]
    [InlineData("shampoo-mkl", "shampoo-mkl.dll")]
    public void Package_HasMetadataAndReadme(string id, string builtAssembly)
    {
        var feed = PackageFeed.Find(id, builtAssembly);
        using var package = ZipFile.OpenRead(feed.PackagePath(id));
        var metadata = Nuspec(package, id).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;

        Assert.Equal(id, Field("id"));
        Assert.Equal(feed.Version, Field("version"));
        Assert.StartsWith("0.", feed.Version, StringComparison.Ordinal); // 0.x SemVer until the API settles
        Assert.Equal("MIT", Field("license"));
        Assert.Equal("README.md", Field("readme"));
        Assert.Contains("shampoo", Field("tags")!.Split(' '));
        Assert.Contains("CHANGELOG.md", Field("releaseNotes"));
        Assert.False(string.IsNullOrWhiteSpace(Field("description")));

        var readme = new StreamReader(package.GetEntry("README.md")!.Open()).ReadToEnd();
        Assert.Contains("ShampooOptions.RecommendedShampooSquared", readme);
        Assert.Contains("shampoo-mkl doctor", readme);
        Assert.Contains("apt install libopenblas0", readme);
        Assert.Contains("brew install openblas", readme);
    }

    [Theory]
    [Trait("Category", "Package")]
    [InlineData("ShampooMkl")]
    [InlineData("ShampooMkl.TorchSharp")]
    public void Library_HasSymbolsPackage(string id)
    {
        var feed = PackageFeed.Find(id, "ShampooMkl.dll");
        var symbols = Path.ChangeExtension(feed.PackagePath(id), ".snupkg");
        Assert.True(File.Exists(symbols), $"{symbols} is missing");
        using var package = ZipFile.OpenRead(symbols);
        Assert.Contains(package.Entries, e => e.FullName == $"lib/net10.0/{id}.pdb");
    }

    [Fact]
    [Trait("Category", "Package")]
    public void ToolPackage_IsATool_WithoutLibTorch()
    {
        var feed = PackageFeed.Find("shampoo-mkl", "shampoo-mkl.dll");
        using var package = ZipFile.OpenRead(feed.PackagePath("shampoo-mkl"));
        var settings = XDocument.Load(package.GetEntry("tools/net10.0/any/DotnetToolSettings.xml")!.Open());
        var command = settings.Descendants("Command").Single();
        Assert.Equal("shampoo-mkl", command.Attribute("Name")?.Value);
        Assert.Equal("shampoo-mkl.dll", command.Attribute("EntryPoint")?.Value);

        var names = package.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("tools/net10.0/any/ShampooMkl.dll", names);
        Assert.DoesNotContain(names, n => n.Contains("torch_cpu", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(names, n => n.Contains("/linux-musl-", StringComparison.Ordinal));
    }

    private static XDocument Nuspec(ZipArchive package, string id)
    {
        var entry = package.GetEntry($"{id}.nuspec") ?? throw new InvalidOperationException($"{id}.nuspec is missing from the package.");
        using var stream = entry.Open();
        return XDocument.Load(stream);
    }
}
