namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>The OS load average, printed with every table: timings taken while other processes compete for the cores
/// are not comparable with quiet ones, and the reader must be able to tell which is which.</summary>
internal static class MachineLoad
{
    public static string Describe()
    {
        const string file = "/proc/loadavg";
        if (!File.Exists(file))
        {
            return "load average unavailable";
        }

        var parts = File.ReadAllText(file).Split(' ');
        return $"load average {parts[0]} / {parts[1]} / {parts[2]} (1/5/15 min) on {Environment.ProcessorCount} cores";
    }
}
