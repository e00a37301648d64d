using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>BenchmarkDotNet column: achieved GFLOP/s (see <see cref="Flops"/> for the counts).</summary>
internal sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);

    public string ColumnName => "GFLOP/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Achieved rate: nominal flops of one operation (Flops.cs) divided by the mean time";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        FlopModel.Rate(summary, benchmarkCase) is { } rate ? rate.ToString("F1", CultureInfo.InvariantCulture) : "-";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;
}

/// <summary>BenchmarkDotNet column: the rate as a share of the same run's gemm peak for the case's backend and precision.</summary>
internal sealed class PercentOfPeakColumn : IColumn
{
    public string Id => nameof(PercentOfPeakColumn);

    public string ColumnName => "%Peak";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 1;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "GFLOP/s over the run's sgemm (fp32 work) or dgemm (fp64 work) peak of the same backend (needs a joined summary)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var attribute = FlopModel.AttributeOf(benchmarkCase);
        if (attribute is null || FlopModel.Rate(summary, benchmarkCase) is not { } rate)
        {
            return "-";
        }

        return FlopModel.Peak(summary, FlopModel.Backend(benchmarkCase), attribute.Precision) is { } peak
            ? (100 * rate / peak).ToString("F0", CultureInfo.InvariantCulture) + "%"
            : "-";
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;
}
