using System.Diagnostics;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>Samples of one timed operation, in milliseconds.</summary>
internal sealed record Timing(double[] SamplesMs, long AllocatedBytesPerRun)
{
    public double MedianMs => Median(SamplesMs);

    public double MinMs => SamplesMs.Min();

    public double MaxMs => SamplesMs.Max();

    public int Count => SamplesMs.Length;

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    }
}

/// <summary>Warm-up runs, then the median of timed runs: the light-weight harness of --perf-compare and --peers.</summary>
/// <remarks>BenchmarkDotNet's process-per-case statistics cost minutes; a regression gate and a peer table need a robust
/// central value in seconds. The median ignores the odd run disturbed by the OS; a time budget stops long operations
/// early (never below <c>minRepeats</c>).</remarks>
internal static class StopwatchTimer
{
    public static Timing Measure(Action action, int warmup, int repeats, TimeSpan? budget = null, int minRepeats = 3)
    {
        for (var i = 0; i < warmup; i++)
        {
            action();
        }

        var samples = new List<double>(repeats);
        // Managed allocations of the calling thread only: exact, and blind to the runtime's background threads (tiered
        // JIT, thread pool), which is what "the step allocates nothing" is about.
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < repeats; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            action();
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            if (budget is { } b && samples.Count >= minRepeats && Stopwatch.GetElapsedTime(started) > b)
            {
                break;
            }
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        return new Timing([.. samples], allocated / Math.Max(1, samples.Count));
    }
}
