namespace ShampooMkl.Tests.Packaging;

/// <summary>A temporary folder with its own nuget.config, global packages folder and HTTP cache, so that installing or
/// restoring the packed packages neither reads a stale copy from, nor writes into, the user's NuGet folders.</summary>
/// <remarks><see cref="ConfigFile"/> has no package source at all: the caller names the feed (<c>dotnet tool install
/// --add-source</c>) or brings its own nuget.config (a sample). Deleted on <see cref="Dispose"/>.</remarks>
internal sealed class IsolatedNuGet : IDisposable
{
    public IsolatedNuGet()
    {
        Root = Directory.CreateTempSubdirectory("shampoo-mkl-package-").FullName;
        ConfigFile = Path.Combine(Root, "nuget.config");
        File.WriteAllText(ConfigFile, NoSources);
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
