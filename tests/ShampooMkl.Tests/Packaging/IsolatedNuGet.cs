using System.Security;

namespace ShampooMkl.Tests.Packaging;

/// <summary>A temporary folder with its own nuget.config, global packages folder and HTTP cache, so that installing or
/// restoring the packed packages neither reads a stale copy from, nor writes into, the user's NuGet folders.</summary>
/// <remarks>With <c>registry</c> the config's sources are the local feed, which alone may serve the packages packed from
/// this repository (package source mapping), and nuget.org for everything else (a sample's restore needs it); without,
/// the config has no source at all and the caller names the feed (<c>dotnet tool install --add-source</c>, which NuGet
/// refuses to combine with source mapping). Deleted on <see cref="Dispose"/>.</remarks>
internal sealed class IsolatedNuGet : IDisposable
{
    /// <summary>The ids this repository packs; the config maps them to the local feed only.</summary>
    private static readonly string[] OwnPackages = ["ShampooMkl", "ShampooMkl.*", "shampoo-mkl"];

    public IsolatedNuGet(PackageFeed feed, bool registry)
    {
        ArgumentNullException.ThrowIfNull(feed);
        Root = Directory.CreateTempSubdirectory("shampoo-mkl-package-").FullName;
        ConfigFile = Path.Combine(Root, "nuget.config");
        File.WriteAllText(ConfigFile, registry ? Config(feed.Folder) : NoSources);
        Environment = new Dictionary<string, string>
        {
            ["NUGET_PACKAGES"] = Path.Combine(Root, "packages"),
            ["NUGET_HTTP_CACHE_PATH"] = Path.Combine(Root, "http-cache"),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            ["NO_COLOR"] = "1",
        };
    }

    /// <summary>The temporary folder; everything below it is deleted on <see cref="Dispose"/>.</summary>
    public string Root { get; }

    /// <summary>The nuget.config in <see cref="Root"/>.</summary>
    public string ConfigFile { get; }

    /// <summary>The environment a child <c>dotnet</c> needs to use only these folders.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>A nuget.config without package sources.</summary>
    private const string NoSources = """
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <clear />
          </packageSources>
        </configuration>

        """;

    /// <summary>A nuget.config with the local feed (this repository's packages only) and nuget.org (everything else).</summary>
    public static string Config(string localFeed)
    {
        var own = string.Concat(OwnPackages.Select(p => "      <package pattern=\"" + p + "\" />\n"));
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{SecurityElement.Escape(localFeed)}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local">
            {own}    </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>

            """;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A child's file still open (Windows): leave the temporary folder to the system.
        }
    }
}
