using System.Reflection;

namespace ShampooMkl.Tests.Packaging;

/// <summary>The local feed <c>./build.sh --target=Pack</c> writes (artifacts/packages) and the version it packs, for the
/// tests that install the packages as a user would.</summary>
/// <remarks>The Test target of build.cake packs before it tests, so the feed holds this build's packages. Run by hand
/// (<c>dotnet test</c>) without packing first, <see cref="Find"/> fails with the command to run, never with a skip.</remarks>
internal sealed class PackageFeed
{
    private PackageFeed(string repositoryRoot, string version)
    {
        RepositoryRoot = repositoryRoot;
        Version = version;
        Folder = Path.Combine(repositoryRoot, "artifacts", "packages");
    }

    /// <summary>The repository's root folder (where ShampooMkl.sln is).</summary>
    public string RepositoryRoot { get; }

    /// <summary>The packages' version, Directory.Build.props' <c>Version</c> (stamped into this test assembly).</summary>
    public string Version { get; }

    /// <summary>artifacts/packages below <see cref="RepositoryRoot"/>.</summary>
    public string Folder { get; }

    /// <summary>The feed, after checking that it holds <paramref name="packageId"/> at <see cref="Version"/> and that the
    /// package is not older than the assemblies this test run was built with.</summary>
    /// <exception cref="InvalidOperationException">The package is missing or stale; the message says how to pack.</exception>
    public static PackageFeed Find(string packageId, string builtAssemblyName)
    {
        var version = typeof(PackageFeed).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "PackageVersion").Value!;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ShampooMkl.sln")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            throw new InvalidOperationException($"ShampooMkl.sln not found above {AppContext.BaseDirectory}: the package tests run inside the repository.");
        }

        var feed = new PackageFeed(dir.FullName, version);
        var package = feed.PackagePath(packageId);
        if (!File.Exists(package))
        {
            throw new InvalidOperationException($"{package} is missing: run ./build.sh --target=Pack (the Test target does) before these tests.");
        }

        var built = Path.Combine(AppContext.BaseDirectory, builtAssemblyName);
        if (File.GetLastWriteTimeUtc(package) < File.GetLastWriteTimeUtc(built))
        {
            throw new InvalidOperationException($"{package} is older than this build's {builtAssemblyName}: run ./build.sh --target=Pack again.");
        }

        return feed;
    }

    /// <summary>The .nupkg of <paramref name="packageId"/> at <see cref="Version"/> in <see cref="Folder"/>.</summary>
    public string PackagePath(string packageId) => Path.Combine(Folder, $"{packageId}.{Version}.nupkg");
}
