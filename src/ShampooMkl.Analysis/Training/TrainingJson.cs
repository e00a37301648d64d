using System.Text.Json;

namespace ShampooMkl.Analysis.Training;

/// <summary>Reads and writes training reports as JSON (source-generated, so it also works trimmed/AOT).</summary>
public static class TrainingJson
{
    /// <summary>Serialises a report.</summary>
    public static string Serialize(TrainingReport report) =>
        JsonSerializer.Serialize(report, TrainingJsonContext.Default.TrainingReport);

    /// <summary>Serialises a comparison of runs.</summary>
    public static string Serialize(TrainingComparison comparison) =>
        JsonSerializer.Serialize(comparison, TrainingJsonContext.Default.TrainingComparison);

    /// <summary>Parses a report.</summary>
    /// <exception cref="InvalidDataException">The text is not a training report.</exception>
    public static TrainingReport DeserializeReport(string json) => Parse(json, TrainingJsonContext.Default.TrainingReport);

    /// <summary>Parses a comparison.</summary>
    /// <exception cref="InvalidDataException">The text is not a comparison.</exception>
    public static TrainingComparison DeserializeComparison(string json) => Parse(json, TrainingJsonContext.Default.TrainingComparison);

    /// <summary>Writes a report to a file, creating its folder.</summary>
    public static void Write(TrainingReport report, string path) => WriteText(path, Serialize(report));

    /// <summary>Writes a comparison to a file, creating its folder.</summary>
    public static void Write(TrainingComparison comparison, string path) => WriteText(path, Serialize(comparison));

    internal static void WriteText(string path, string text)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllText(path, text + Environment.NewLine);
    }

    private static T Parse<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type)
                ?? throw new InvalidDataException($"The JSON holds null, not a {typeof(T).Name}.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }
}
