using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>Writes Hessian reports as JSON and as a long-format CSV (one row per step and grid cell).</summary>
public static class HessianReportFiles
{
    /// <summary>The CSV header.</summary>
    public const string CsvHeader = "step,loss,hessian,source,approximation,cosine";

    /// <summary>Serialises a report (camelCase, indented).</summary>
    public static string ToJson(HessianReport report) => JsonSerializer.Serialize(report, ExperimentsJsonContext.Readable.HessianReport);

    /// <summary>Parses a report.</summary>
    /// <exception cref="InvalidDataException">The text is not a Hessian report.</exception>
    public static HessianReport FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ExperimentsJsonContext.Default.HessianReport)
                ?? throw new InvalidDataException("The JSON holds null, not a Hessian report.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Not a valid Hessian report: {e.Message}", e);
        }
    }

    /// <summary>The CSV text: header, then one row per measurement and cell, invariant culture, round-trip precision.</summary>
    public static string ToCsv(HessianReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder(CsvHeader).Append('\n');
        foreach (var m in report.Measurements)
        {
            foreach (var c in m.Cosines)
            {
                text.Append(CultureInfo.InvariantCulture, $"{m.Step},{m.Loss:R},{c.Hessian},{c.Source},{c.Approximation},{c.Cosine:R}\n");
            }
        }

        return text.ToString();
    }

    /// <summary>Writes the JSON file, creating its folder.</summary>
    public static void WriteJson(HessianReport report, string path) => WriteText(path, ToJson(report) + Environment.NewLine);

    /// <summary>Writes the CSV file, creating its folder.</summary>
    public static void WriteCsv(HessianReport report, string path) => WriteText(path, ToCsv(report));

    /// <summary>Writes text to a file, creating its folder.</summary>
    public static void WriteText(string path, string text)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllText(path, text);
    }
}
