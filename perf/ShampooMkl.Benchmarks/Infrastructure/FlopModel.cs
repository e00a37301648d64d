using System.Reflection;
using BenchmarkDotNet.Parameters;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>Flops, rate and peak of a benchmark case, from its <see cref="FlopsAttribute"/> and the run's <see cref="PeakAttribute"/> cases.</summary>
internal static class FlopModel
{
    public static FlopsAttribute? AttributeOf(BenchmarkCase benchmark) =>
        benchmark.Descriptor.WorkloadMethod.GetCustomAttribute<FlopsAttribute>();

    public static bool IsPeak(BenchmarkCase benchmark) =>
        benchmark.Descriptor.WorkloadMethod.GetCustomAttribute<PeakAttribute>() is not null;

    public static double? Count(BenchmarkCase benchmark)
    {
        var attribute = AttributeOf(benchmark);
        if (attribute is null)
        {
            return null;
        }

        var formula = benchmark.Descriptor.Type.GetMethod(attribute.Formula, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException($"{benchmark.Descriptor.Type.Name} has no static method {attribute.Formula}.");
        return (double?)formula.Invoke(null, [benchmark.Parameters]);
    }

    public static BlasBackendKind? Backend(BenchmarkCase benchmark) =>
        benchmark.Parameters.Items.FirstOrDefault(p => p.Name == "Backend")?.Value is BlasBackendKind kind ? kind : null;

    /// <summary>GFLOP/s of the case's mean time, or null without a flop count or a result.</summary>
    public static double? Rate(Summary summary, BenchmarkCase benchmark)
    {
        var mean = summary[benchmark]?.ResultStatistics?.Mean;
        var flops = Count(benchmark);
        return mean is > 0 && flops is > 0 ? flops / mean : null;
    }

    /// <summary>The best rate among the run's peak cases of the same backend and precision.</summary>
    public static double? Peak(Summary summary, BlasBackendKind? backend, FlopPrecision precision)
    {
        double? best = null;
        foreach (var candidate in summary.BenchmarksCases)
        {
            if (!IsPeak(candidate) || Backend(candidate) != backend || AttributeOf(candidate)?.Precision != precision)
            {
                continue;
            }

            if (Rate(summary, candidate) is { } rate && (best is null || rate > best))
            {
                best = rate;
            }
        }

        return best;
    }

    public static int IntParameter(ParameterInstances parameters, string name) => Convert.ToInt32(parameters[name], System.Globalization.CultureInfo.InvariantCulture);
}
