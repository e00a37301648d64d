using System.Globalization;
using System.Text.Json;
using BenchmarkDotNet.Reports;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>One benchmark case of a BenchmarkDotNet run, reduced to what the roofline table needs.</summary>
internal sealed record RooflineRow(
    string Suite, string Method, string Case, string Backend, double MeanMs, double? Gflops, double? PercentOfPeak,
    string PeakKind, long? AllocatedBytesPerOp);

/// <summary>Post-processing of a BenchmarkDotNet run: GFLOP/s and %-of-peak per case, MKL and OpenBLAS side by side,
/// printed and written to artifacts/perf/roofline.{md,json}.</summary>
internal static class RooflineReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static IReadOnlyList<RooflineRow> Rows(IEnumerable<Summary> summaries)
    {
        var rows = new List<RooflineRow>();
        foreach (var summary in summaries)
        {
            foreach (var report in summary.Reports)
            {
                var bc = report.BenchmarkCase;
                if (report.ResultStatistics is not { } stats)
                {
                    continue;
                }

                var attribute = FlopModel.AttributeOf(bc);
                var backend = FlopModel.Backend(bc);
                var rate = FlopModel.Rate(summary, bc);
                double? percent = null;
                if (attribute is not null && rate is { } r && FlopModel.Peak(summary, backend, attribute.Precision) is { } peak)
                {
                    percent = 100 * r / peak;
                }

                var caseText = string.Join(" ", bc.Parameters.Items.Where(p => p.Name != "Backend").Select(p => $"{p.Name}={p.Value}"));
                rows.Add(new RooflineRow(
                    bc.Descriptor.Type.Name.Replace("Benchmarks", "", StringComparison.Ordinal),
                    bc.Descriptor.WorkloadMethod.Name,
                    caseText,
                    backend?.ToString() ?? "-",
                    stats.Mean / 1e6,
                    rate is { } g && double.IsFinite(g) ? g : null,
                    percent is { } pc && double.IsFinite(pc) ? pc : null,
                    attribute is null ? "-" : attribute.Precision == FlopPrecision.Single ? "sgemm" : "dgemm",
                    report.GcStats.GetBytesAllocatedPerOperation(bc)));
            }
        }

        return rows;
    }

    /// <summary>Prints the side-by-side table and writes it (Markdown and JSON) to <paramref name="folder"/>.</summary>
    public static void Write(IReadOnlyList<RooflineRow> rows, string folder, string loadAtStart)
    {
        var backends = new[] { BlasBackendKind.Mkl.ToString(), BlasBackendKind.OpenBlas.ToString() };
        var headers = new List<string> { "Suite", "Method", "Case", "vs" };
        foreach (var b in backends)
        {
            headers.AddRange([$"{b} ms", $"{b} GFLOP/s", $"{b} %peak", $"{b} alloc"]);
        }

        headers.Add("MKL speed-up");
        var table = new TextTable([.. headers]);
        foreach (var group in rows.GroupBy(r => (r.Suite, r.Method, r.Case)))
        {
            var cells = new List<string> { group.Key.Suite, group.Key.Method, group.Key.Case, group.First().PeakKind };
            RooflineRow? mkl = null, openblas = null;
            foreach (var b in backends)
            {
                var row = group.FirstOrDefault(r => r.Backend == b);
                if (b == backends[0])
                {
                    mkl = row;
                }
                else
                {
                    openblas = row;
                }

                cells.Add(row is null ? "" : Format(row.MeanMs, "F3"));
                cells.Add(row?.Gflops is { } g ? Format(g, "F1") : "-");
                cells.Add(row?.PercentOfPeak is { } p ? Format(p, "F0") + "%" : "-");
                cells.Add(row?.AllocatedBytesPerOp is { } a ? a + " B" : "-");
            }

            cells.Add(mkl is not null && openblas is not null ? Format(openblas.MeanMs / mkl.MeanMs, "F2") + "×" : "-");
            table.Add([.. cells]);
        }

        var peaks = rows.Where(r => r.Suite == "Peak").Select(r => $"{r.Method} {r.Backend}: {Format(r.Gflops ?? 0, "F1")} GFLOP/s");
        var text = "## Roofline (BenchmarkDotNet means; %peak against this run's n=2048 gemm of the same backend and precision)\n\n"
            + "Peaks: " + string.Join(", ", peaks) + "\n"
            + "At the start of the run: " + loadAtStart + "; at the end: " + MachineLoad.Describe() + "\n\n" + table
            + "\nFlop counts (perf/ShampooMkl.Benchmarks/Infrastructure/Flops.cs): gemm 2mnk, syrk n²k, syevd 9n³ (nominal), "
            + "geqrf/orgqr 4/3·n³ each; Newton: iterations × (1 + ⌊log₂p⌋ + popcount p) gemms; steps: syrk + gemm work of every block.\n";
        Console.WriteLine();
        Console.WriteLine(text);
        File.WriteAllText(Path.Combine(folder, "roofline.md"), text);
        File.WriteAllText(Path.Combine(folder, "roofline.json"), JsonSerializer.Serialize(rows, Json));
        Console.WriteLine($"Written: {Path.Combine(folder, "roofline.md")} and roofline.json");
    }

    private static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
