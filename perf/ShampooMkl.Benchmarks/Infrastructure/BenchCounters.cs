using System.Globalization;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>Values a benchmark process measures besides time (e.g. Newton iterations), handed to the host's columns.</summary>
/// <remarks>BenchmarkDotNet runs each case in a child process that inherits the host's environment, so the host names a
/// folder in <see cref="Variable"/> and the child writes one small file per value there.</remarks>
internal static class BenchCounters
{
    public const string Variable = "SHAMPOO_BENCH_COUNTERS";

    public static void Record(string key, double value)
    {
        var folder = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(folder))
        {
            return;
        }

        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, key + ".txt"), value.ToString("R", CultureInfo.InvariantCulture));
    }

    public static double? Read(string key)
    {
        var folder = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(folder))
        {
            return null;
        }

        var file = Path.Combine(folder, key + ".txt");
        return File.Exists(file) && double.TryParse(File.ReadAllText(file), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
    }
}
