namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>Where the repository, its artifacts and its stored baselines are, wherever the program runs from.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    public static string Root => RootPath.Value;

    /// <summary>artifacts/perf: every table and JSON this project writes.</summary>
    public static string PerfArtifacts
    {
        get
        {
            var path = Path.Combine(Root, "artifacts", "perf");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    public static string Baselines => Path.Combine(Root, "perf", "baselines");

    public static string TorchScript => Path.Combine(Root, "perf", "peers", "torch_step.py");

    // BenchmarkDotNet runs children from generated folders under bin/, so walk up to the solution file
    // rather than trusting the working directory.
    private static string FindRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ShampooMkl.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Environment.CurrentDirectory;
    }
}
