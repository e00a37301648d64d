using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>The outcome of a <see cref="HessianTracking"/> run: its configuration and every measurement.</summary>
public sealed record HessianReport
{
    /// <summary>Model name (linear, mlp, cnn).</summary>
    public required string Model { get; init; }

    /// <summary>Data set (mnist, or mnist2 with its digits).</summary>
    public required string Dataset { get; init; }

    /// <summary>Classes of the model.</summary>
    public int Classes { get; init; }

    /// <summary>Index of the analysed dense layer.</summary>
    public int Layer { get; init; }

    /// <summary>Name of the analysed layer (fc1, fc, …).</summary>
    public string LayerName { get; init; } = "";

    /// <summary>m, the layer's outputs.</summary>
    public int Rows { get; init; }

    /// <summary>n, the layer's inputs.</summary>
    public int Cols { get; init; }

    /// <summary>N, examples per measurement.</summary>
    public int Examples { get; init; }

    /// <summary>Training batch size and B of the batch-gradient estimator.</summary>
    public int BatchSize { get; init; }

    /// <summary>Optimizer between measurements.</summary>
    public string Optimizer { get; init; } = "";

    /// <summary>The optimizer's settings.</summary>
    public IReadOnlyDictionary<string, string> Hyperparameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Run seed.</summary>
    public int Seed { get; init; }

    /// <summary>Optimizer steps trained.</summary>
    public int Steps { get; init; }

    /// <summary>Measurement interval in steps.</summary>
    public int Every { get; init; }

    /// <summary>Power-iteration cap.</summary>
    public int PowerIterations { get; init; }

    /// <summary>Power-iteration tolerance.</summary>
    public double Tolerance { get; init; }

    /// <summary>BLAS backend, or null when none loaded.</summary>
    public string? Backend { get; init; }

    /// <summary>BLAS threads.</summary>
    public int Threads { get; init; }

    /// <summary>Wall time of the whole run (training and measurements).</summary>
    public double TotalSeconds { get; init; }

    /// <summary>Wall time of the measurements alone.</summary>
    public double MeasurementSeconds => Measurements.Sum(m => m.Seconds);

    /// <summary>The measurements in step order.</summary>
    public IReadOnlyList<HessianMeasurement> Measurements { get; init; } = [];
}

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

// NaN cosines (a source whose gradients are all zero) must not make a long run's report unwritable.
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(HessianReport))]
[JsonSerializable(typeof(GradientFileMetrics))]
internal sealed partial class ExperimentsJsonContext : JsonSerializerContext
{
    /// <summary>Writes '&lt;', '×' and '²' as themselves: the files are read by people and by JSON parsers, never embedded in HTML.</summary>
    public static ExperimentsJsonContext Readable { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
