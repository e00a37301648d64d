using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Native;

namespace ShampooMkl.Benchmarks.PerfCompare;

/// <summary>One case's result, normalised by the same backend's dgemm reference of the same run.</summary>
internal sealed record PerfEntry(string Backend, string Case, double Ms, double ReferenceMs, double Normalized, int Samples, long AllocatedBytesPerRun = 0);

/// <summary>The stored baseline of one platform (perf/baselines/&lt;rid&gt;.json).</summary>
internal sealed record PerfBaseline(string Rid, string Machine, string Recorded, double Threshold, string Note, List<PerfEntry> Entries);

/// <summary><c>--perf-compare</c>: the short Stopwatch suite, normalised, compared with the platform's baseline.</summary>
/// <remarks>
/// Each case's median is divided by the median of a square dgemm (n = 1024) on the same backend in the same run, so
/// a slower or busier machine scales both and only a change in our code's efficiency moves the ratio. The reference is
/// measured before and after the cases and the faster of the two is used (a transient slowdown inflates only one).
/// A case regresses when its ratio exceeds the baseline's by more than the threshold (default 25%: three runs on the
/// project machine varied by less than half that, see perf/baselines/README.md). A steady-state step ("step-*") that
/// allocates managed memory on the calling thread also fails. Exit code 1 on any regression.
/// </remarks>
internal static class PerfCompareRunner
{
    public const double DefaultThreshold = 0.25;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static int Run(bool updateBaseline, double? thresholdOverride, IReadOnlyList<string> only)
    {
        var rid = RuntimeInformation.RuntimeIdentifier;
        var baselineFile = Path.Combine(RepoPaths.Baselines, rid + ".json");
        var cases = PerfCase.Suite.Where(c => only.Count == 0 || only.Any(o => c.Name.Contains(o, StringComparison.OrdinalIgnoreCase))).ToList();
        var loadBefore = MachineLoad.Describe();
        var entries = new List<PerfEntry>();
        foreach (var kind in new[] { BlasBackendKind.Mkl, BlasBackendKind.OpenBlas })
        {
            if (!BlasLibrary.TryLoad(kind, out var lib, out var attempts))
            {
                Console.WriteLine($"{kind}: not loadable, skipped ({attempts.LastOrDefault()})");
                continue;
            }

            BlasLibrary.SetDefault(kind);
            Console.WriteLine($"{kind}: {lib!.Version}");
            var before = Measure(PerfCase.Reference, lib);
            var timings = cases.Select(c => (Case: c, Timing: Measure(c, lib))).ToList();
            var after = Measure(PerfCase.Reference, lib);
            var reference = Math.Min(before.MedianMs, after.MedianMs);
            Console.WriteLine($"  reference dgemm-1024: {F(before.MedianMs)} ms before, {F(after.MedianMs)} ms after; using {F(reference)} ms");
            entries.AddRange(timings.Select(t => new PerfEntry(kind.ToString(), t.Case.Name, Round(t.Timing.MedianMs), Round(reference),
                Round(t.Timing.MedianMs / reference), t.Timing.Count, t.Timing.AllocatedBytesPerRun)));
            // Let this backend's worker threads go idle before the next one is timed.
            Thread.Sleep(1000);
        }

        var baseline = File.Exists(baselineFile) ? JsonSerializer.Deserialize<PerfBaseline>(File.ReadAllText(baselineFile), Json) : null;
        var threshold = thresholdOverride ?? (baseline?.Threshold > 0 ? baseline.Threshold : DefaultThreshold);
        var table = new TextTable("Backend", "Case", "ms (median)", "n", "B/run", "÷ dgemm", "Baseline ÷ dgemm", "Change", "Verdict");
        var regressions = 0;
        foreach (var e in entries)
        {
            var b = baseline?.Entries.FirstOrDefault(x => x.Backend == e.Backend && x.Case == e.Case);
            var change = b is null ? (double?)null : (e.Normalized / b.Normalized) - 1;
            var verdict = change switch
            {
                null => "new",
                > 0 when change > threshold => "REGRESSION",
                < 0 when -change > threshold / (1 + threshold) => "faster",
                _ => "ok",
            };
            // A steady-state step must not allocate (the optimizer's contract); any managed byte is a regression.
            if (e.Case.StartsWith("step-", StringComparison.Ordinal) && e.AllocatedBytesPerRun != 0)
            {
                verdict = "ALLOCATES";
            }

            if (verdict is "REGRESSION" or "ALLOCATES")
            {
                regressions++;
            }

            table.Add(e.Backend, e.Case, F(e.Ms), e.Samples.ToString(CultureInfo.InvariantCulture),
                e.AllocatedBytesPerRun.ToString(CultureInfo.InvariantCulture), e.Normalized.ToString("F4", CultureInfo.InvariantCulture),
                b is null ? "-" : b.Normalized.ToString("F4", CultureInfo.InvariantCulture),
                change is { } c ? (c >= 0 ? "+" : "") + (100 * c).ToString("F1", CultureInfo.InvariantCulture) + "%" : "-", verdict);
        }

        Console.WriteLine();
        Console.WriteLine($"## Perf compare ({rid}; threshold +{100 * threshold:F0}% on time ÷ same-run dgemm-1024; baseline {(baseline is null ? "none" : baseline.Recorded)})");
        Console.WriteLine($"Before: {loadBefore}; after: {MachineLoad.Describe()}");
        Console.WriteLine();
        Console.WriteLine(table);
        var machine = MachineDescription();
        File.WriteAllText(Path.Combine(RepoPaths.PerfArtifacts, "perf-compare.json"),
            JsonSerializer.Serialize(new PerfBaseline(rid, machine, DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), threshold, "this run", entries), Json));

        if (updateBaseline)
        {
            Directory.CreateDirectory(RepoPaths.Baselines);
            var note = "Times are medians; 'normalized' = ms ÷ the same backend's dgemm-1024 median in the same run. Rewrite with --update-baseline.";
            File.WriteAllText(baselineFile, JsonSerializer.Serialize(
                new PerfBaseline(rid, machine, DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), threshold, note, entries), Json) + Environment.NewLine);
            Console.WriteLine($"Baseline written: {baselineFile}");
            return 0;
        }

        if (baseline is null)
        {
            Console.WriteLine($"No baseline for {rid} at {baselineFile}: nothing to compare. Record one with --update-baseline.");
            return 0;
        }

        Console.WriteLine(regressions == 0
            ? "No regression beyond the threshold."
            : $"{regressions} case(s) regressed by more than {100 * threshold:F0}% (normalised); see the table above.");
        return regressions == 0 ? 0 : 1;
    }

    private static Timing Measure(PerfCase perfCase, BlasLibrary lib)
    {
        var (run, owner) = perfCase.Setup(lib);
        using (owner)
        {
            var timing = StopwatchTimer.Measure(run, perfCase.Warmup, perfCase.Repeats);
            Console.WriteLine($"  {perfCase.Name,-30} {F(timing.MedianMs),10} ms (min {F(timing.MinMs)}, max {F(timing.MaxMs)}, n={timing.Count})");
            return timing;
        }
    }

    private static string MachineDescription()
    {
        var cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }

        return $"{cpu}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}";
    }

    private static double Round(double value) => Math.Round(value, 6);

    private static string F(double value) => value.ToString("F3", CultureInfo.InvariantCulture);
}
