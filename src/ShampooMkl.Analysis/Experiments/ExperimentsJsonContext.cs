using System.Text.Json;
using System.Text.Json.Serialization;

namespace ShampooMkl.Analysis.Experiments;

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
