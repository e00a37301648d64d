using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Linalg;

namespace ShampooMkl.Benchmarks.PerfCompare;

/// <summary>One case's result, normalised by the same backend's dgemm reference of the same run.</summary>
/// <remarks>In a baseline, <c>Threshold</c> is the slowdown this case may show before it counts as a regression.</remarks>
internal sealed record PerfEntry(string Backend, string Case, double Ms, double ReferenceMs, double Normalized, int Samples,
    long AllocatedBytesPerRun = 0, double? Threshold = null);

/// <summary>The stored baseline of one platform (perf/baselines/&lt;rid&gt;.json).</summary>
internal sealed record PerfBaseline(string Rid, string Machine, string Recorded, double Threshold, string Note, List<PerfEntry> Entries);

/// <summary><c>--perf-compare</c>: the short Stopwatch suite, normalised, compared with the platform's baseline.</summary>
/// <remarks>
/// Every sample of a case is paired with a square dgemm (n = 1024) on the same backend run just before it, and the
/// case's value is the median of the per-pair ratios, so a slower or busier machine scales both and only a change in
/// our code's efficiency moves the ratio. A case over the threshold is measured again (twice at most) and keeps its best
/// ratio, because load from other processes comes in bursts that hit one measurement, not three.
/// A case regresses when its ratio exceeds the baseline's by more than its limit: 25%, or twice the spread of the three
/// passes the baseline was recorded from when that is larger (at most 60%); measured noise is in perf/baselines/README.md.
/// An optimizer step, steady ("step-*") or refreshing ("refresh-step-*"), that allocates managed memory on the calling
/// thread also fails. Exit code 1 on any
/// regression.
/// </remarks>
internal static class PerfCompareRunner
{
    public const double DefaultThreshold = 0.25;

    // Relaxed escaping keeps the stored file readable (÷, quotes) for the reviewer of a baseline change.
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static int Run(bool updateBaseline, double? thresholdOverride, IReadOnlyList<string> only)
    {
        var rid = RuntimeInformation.RuntimeIdentifier;
        var baselineFile = Path.Combine(RepoPaths.Baselines, rid + ".json");
        var cases = PerfCase.Suite.Where(c => only.Count == 0 || only.Any(o => c.Name.Contains(o, StringComparison.OrdinalIgnoreCase))).ToList();
        var loadBefore = MachineLoad.Describe();
        var entries = new List<PerfEntry>();
        foreach (var kind in new[] { BlasBackendKind.Mkl, BlasBackendKind.OpenBlas })
        {
            if (!BlasBackend.TryLoad(kind, out var lib, out var attempts))
            {
                Console.WriteLine($"{kind}: not loadable, skipped ({attempts.LastOrDefault()})");
                continue;
            }

            BlasBackend.SetDefault(kind);
            Console.WriteLine($"{kind}: {lib!.Version}");
            // A baseline is what every later run is judged by, so it is the median of three passes, not one lucky or
            // unlucky pass.
            var passes = updateBaseline ? BaselinePasses : 1;
            var measured = new Dictionary<string, List<(double CaseMs, double ReferenceMs, double Normalized, int Samples, long AllocatedBytesPerRun)>>();
            for (var pass = 0; pass < passes; pass++)
            {
                foreach (var c in cases)
                {
                    (measured.TryGetValue(c.Name, out var list) ? list : measured[c.Name] = []).Add(Measure(c, lib));
                }
            }

            foreach (var c in cases)
            {
                var m = measured[c.Name];
                var normalized = m.Select(x => x.Normalized).ToArray();
                // Per case: twice the spread its own three passes showed, never below the global threshold. Kernels that
                // reproduce to a few percent keep a tight gate; the refresh steps, whose parallel-for and LAPACK react
                // to other processes differently from the dgemm reference, get the room their noise needs.
                double? caseThreshold = passes > 1
                    ? Math.Round(Math.Min(MaxCaseThreshold, Math.Max(thresholdOverride ?? DefaultThreshold, 2 * ((normalized.Max() / normalized.Min()) - 1))), 3)
                    : null;
                entries.Add(new PerfEntry(kind.ToString(), c.Name, Round(Timing.Median(m.Select(x => x.CaseMs).ToArray())),
                    Round(Timing.Median(m.Select(x => x.ReferenceMs).ToArray())), Round(Timing.Median(normalized)),
                    m.Sum(x => x.Samples), m.Max(x => x.AllocatedBytesPerRun), caseThreshold));
            }

            // Let this backend's worker threads go idle before the next one is timed.
            Thread.Sleep(1000);
        }

        var baseline = File.Exists(baselineFile) ? JsonSerializer.Deserialize<PerfBaseline>(File.ReadAllText(baselineFile), Json) : null;
        var threshold = thresholdOverride ?? (baseline?.Threshold > 0 ? baseline.Threshold : DefaultThreshold);
        if (baseline is not null && !updateBaseline)
        {
            Confirm(entries, baseline, threshold, cases);
        }

        var table = new TextTable("Backend", "Case", "ms (median)", "n", "B/run", "÷ dgemm", "Baseline ÷ dgemm", "Change", "Limit", "Verdict");
        var regressions = 0;
        foreach (var e in entries)
        {
            var b = baseline?.Entries.FirstOrDefault(x => x.Backend == e.Backend && x.Case == e.Case);
            var change = b is null ? (double?)null : (e.Normalized / b.Normalized) - 1;
            var limit = CaseThreshold(b, threshold, thresholdOverride);
            var verdict = change switch
            {
                null => "new",
                > 0 when change > limit => "REGRESSION",
                < 0 when -change > limit / (1 + limit) => "faster",
                _ => "ok",
            };
            // An optimizer step must not allocate (the optimizer's contract); any managed byte is a regression.
            if ((e.Case.StartsWith("step-", StringComparison.Ordinal) || e.Case.StartsWith("refresh-step-", StringComparison.Ordinal))
                && e.AllocatedBytesPerRun != 0)
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
                change is { } c ? (c >= 0 ? "+" : "") + (100 * c).ToString("F1", CultureInfo.InvariantCulture) + "%" : "-",
                b is null ? "-" : "+" + (100 * limit).ToString("F0", CultureInfo.InvariantCulture) + "%", verdict);
        }

        Console.WriteLine();
        Console.WriteLine($"## Perf compare ({rid}; per-case limits from the baseline, at least +{100 * threshold:F0}%, on time ÷ paired dgemm-1024; baseline {(baseline is null ? "none" : baseline.Recorded)})");
        Console.WriteLine($"Before: {loadBefore}; after: {MachineLoad.Describe()}");
        Console.WriteLine();
        Console.WriteLine(table);
        var machine = MachineDescription();
        File.WriteAllText(Path.Combine(RepoPaths.PerfArtifacts, "perf-compare.json"),
            JsonSerializer.Serialize(new PerfBaseline(rid, machine, DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), threshold, "this run", entries), Json));

        if (updateBaseline)
        {
            Directory.CreateDirectory(RepoPaths.Baselines);
            var note = "Per case, medians over three passes: 'normalized' is the median of (case time ÷ the dgemm-1024 run just before it), "
                + "'threshold' the slowdown allowed (twice the passes' spread, 25% to 60%). Rewrite with --update-baseline.";
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

    /// <summary>Re-measures each case that looks like a regression (up to <see cref="Retries"/> times) and keeps its best
    /// ratio: a burst of load from another process slows one measurement, a real regression slows every one.</summary>
    private static void Confirm(List<PerfEntry> entries, PerfBaseline baseline, double threshold, IReadOnlyList<PerfCase> cases)
    {
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var b = baseline.Entries.FirstOrDefault(x => x.Backend == e.Backend && x.Case == e.Case);
            var perfCase = cases.FirstOrDefault(c => c.Name == e.Case);
            if (b is null || perfCase is null)
            {
                continue;
            }

            var lib = BlasBackend.Load(Enum.Parse<BlasBackendKind>(e.Backend));
            BlasBackend.SetDefault(lib.Kind);
            var limit = CaseThreshold(b, threshold, null);
            for (var attempt = 0; attempt < Retries && (e.Normalized / b.Normalized) - 1 > limit; attempt++)
            {
                Console.WriteLine($"  {e.Backend} {e.Case}: {100 * ((e.Normalized / b.Normalized) - 1):F1}% over the baseline; measuring again");
                var m = Measure(perfCase, lib);
                if (m.Normalized < e.Normalized)
                {
                    e = e with { Ms = Round(m.CaseMs), ReferenceMs = Round(m.ReferenceMs), Normalized = Round(m.Normalized) };
                }

                e = e with { Samples = e.Samples + m.Samples, AllocatedBytesPerRun = Math.Max(e.AllocatedBytesPerRun, m.AllocatedBytesPerRun) };
            }

            entries[i] = e;
        }
    }

    /// <summary>The slowdown allowed for one case: the command line's threshold if given, else the case's own from the
    /// baseline, else the baseline's global one.</summary>
    private static double CaseThreshold(PerfEntry? baselineEntry, double threshold, double? thresholdOverride) =>
        thresholdOverride ?? baselineEntry?.Threshold ?? threshold;

    /// <summary>Upper bound of a per-case threshold: a gate wider than this would miss a doubling.</summary>
    private const double MaxCaseThreshold = 0.6;

    /// <summary>Passes whose per-case median becomes the baseline.</summary>
    private const int BaselinePasses = 3;

    /// <summary>How many times a suspected regression is measured again before it counts.</summary>
    private const int Retries = 2;

    /// <summary>Paired samples: each run of the case right after one run of the reference, normalised per pair.</summary>
    /// <remarks>On a shared machine the available CPU changes from second to second; a reference taken seconds away
    /// from the case (before or after the whole suite) measured a different machine. Pairing each sample with a dgemm
    /// taken just before it cancels that, and the median of the per-pair ratios drops the pairs a burst split.</remarks>
    private static (double CaseMs, double ReferenceMs, double Normalized, int Samples, long AllocatedBytesPerRun) Measure(PerfCase perfCase, BlasBackend lib)
    {
        var (reference, referenceOwner) = PerfCase.Reference.Setup(lib);
        var (run, owner) = perfCase.Setup(lib);
        using (referenceOwner)
        using (owner)
        {
            for (var i = 0; i < perfCase.Warmup; i++)
            {
                reference();
                run();
            }

            var caseMs = new double[perfCase.Repeats];
            var referenceMs = new double[perfCase.Repeats];
            var ratios = new double[perfCase.Repeats];
            long allocated = 0;
            for (var i = 0; i < perfCase.Repeats; i++)
            {
                var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                reference();
                referenceMs[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                var bytes = GC.GetAllocatedBytesForCurrentThread();
                var t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                run();
                caseMs[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
                allocated += GC.GetAllocatedBytesForCurrentThread() - bytes;
                ratios[i] = caseMs[i] / referenceMs[i];
            }

            var result = (Timing.Median(caseMs), Timing.Median(referenceMs), Timing.Median(ratios), perfCase.Repeats, allocated / perfCase.Repeats);
            Console.WriteLine($"  {perfCase.Name,-30} {F(result.Item1),10} ms (min {F(caseMs.Min())}, max {F(caseMs.Max())}); reference {F(result.Item2)} ms; ratio {result.Item3:F4}");
            return result;
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
