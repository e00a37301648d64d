using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Benchmarks.Peers;
using ShampooMkl.Benchmarks.PerfCompare;

namespace ShampooMkl.Benchmarks;

/// <summary>Entry point: BenchmarkDotNet suites (default), <c>--perf-compare</c> (regression gate) or <c>--peers</c> (peer table).</summary>
/// <remarks>
/// <code>
///   dotnet run -c Release --project perf/ShampooMkl.Benchmarks -- --filter '*' --job short [--with-peers] [--no-torch]
///   dotnet run -c Release --project perf/ShampooMkl.Benchmarks -- --perf-compare [--update-baseline] [--threshold 0.25] [--only NAME]
///   dotnet run -c Release --project perf/ShampooMkl.Benchmarks -- --peers [--models Mlp,Blocked8x1024] [--no-torch]
/// </code>
/// After a BenchmarkDotNet run the roofline table (GFLOP/s, %-of-peak, MKL vs OpenBLAS) is printed and written to
/// artifacts/perf/roofline.{md,json}; with --with-peers the peer comparison follows in the same process.
/// </remarks>
public static class Program
{
    /// <summary>Dispatches on the mode flags; everything else goes to BenchmarkDotNet.</summary>
    public static int Main(string[] args)
    {
        var rest = new List<string>(args);
        bool Flag(string name) => rest.Remove(name);
        string? Value(string name)
        {
            var i = rest.IndexOf(name);
            if (i < 0 || i + 1 >= rest.Count)
            {
                return null;
            }

            var value = rest[i + 1];
            rest.RemoveRange(i, 2);
            return value;
        }

        var noTorch = Flag("--no-torch");
        var modelsText = Value("--models");
        var models = modelsText is null
            ? Enum.GetValues<BenchModel>()
            : modelsText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Enum.Parse<BenchModel>).ToArray();

        if (Flag("--perf-compare"))
        {
            var update = Flag("--update-baseline");
            var thresholdText = Value("--threshold");
            var only = new List<string>();
            while (Value("--only") is { } o)
            {
                only.Add(o);
            }

            double? threshold = thresholdText is null ? null : double.Parse(thresholdText, CultureInfo.InvariantCulture);
            return PerfCompareRunner.Run(update, threshold, only);
        }

        if (Flag("--peers"))
        {
            return PeerComparison.Run(models, !noTorch);
        }

        var withPeers = Flag("--with-peers");
        var loadAtStart = MachineLoad.Describe();
        Console.WriteLine($"Starting benchmarks; {loadAtStart}");
        // The Newton benchmark writes its iteration count here for the host's flop count.
        var counters = Path.Combine(RepoPaths.PerfArtifacts, "counters");
        Directory.CreateDirectory(counters);
        Environment.SetEnvironmentVariable(BenchCounters.Variable, counters);

        var config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(new GflopsColumn(), new PercentOfPeakColumn())
            // One joined summary, so %Peak can see the same run's gemm peak next to every other case.
            .WithOptions(ConfigOptions.JoinSummary);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. rest], config).ToList();
        var rows = RooflineReport.Rows(summaries);
        if (rows.Count > 0)
        {
            RooflineReport.Write(rows, RepoPaths.PerfArtifacts, loadAtStart);
        }

        var failed = summaries.SelectMany(s => s.Reports).Count(r => !r.Success);
        var code = failed == 0 ? 0 : 1;
        if (failed > 0)
        {
            Console.WriteLine($"{failed} benchmark case(s) failed; see the log above.");
        }

        if (withPeers)
        {
            code = Math.Max(code, PeerComparison.Run(models, !noTorch));
        }

        return code;
    }
}
