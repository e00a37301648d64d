using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ShampooMkl.Analysis.Training;

/// <summary>
/// Writes the invariant-text hyperparameters with their JSON types: finite numbers as numbers (<c>"lr": 0.005</c>),
/// <c>true</c>/<c>false</c> as booleans, <c>null</c> as null, anything else (an enum name) as a string. Reading keeps a
/// number's exact text, so a report read back and written again is unchanged.
/// </summary>
/// <remarks>The in-memory form stays text so the optimizer setups of every framework can share one dictionary type.</remarks>
internal sealed class HyperparameterJsonConverter : JsonConverter<IReadOnlyDictionary<string, string>>
{
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("Hyperparameters must be a JSON object.");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString() ?? throw new JsonException("A hyperparameter has no name.");
            reader.Read();
            result[name] = reader.TokenType switch
            {
                JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan),
                JsonTokenType.True => "true",
                JsonTokenType.False => "false",
                JsonTokenType.Null => "null",
                JsonTokenType.String => reader.GetString()!,
                _ => throw new JsonException($"Hyperparameter '{name}' must be a number, boolean, null or string."),
            };
        }

        return result;
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, string> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (name, text) in value)
        {
            writer.WritePropertyName(name);
            WriteTyped(writer, text);
        }

        writer.WriteEndObject();
    }

    /// <summary>Writes one value as the JSON type its invariant text denotes.</summary>
    internal static void WriteTyped(Utf8JsonWriter writer, string text)
    {
        switch (text)
        {
            case "true":
                writer.WriteBooleanValue(true);
                return;
            case "false":
                writer.WriteBooleanValue(false);
                return;
            case "null":
                writer.WriteNullValue();
                return;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
            && text.Length > 0 && (char.IsAsciiDigit(text[0]) || text[0] == '-'))
        {
            // The text is already invariant and round-trips; writing it raw keeps "0.005" from becoming 0.0050000000000000001.
            writer.WriteRawValue(Normalize(text), skipInputValidation: false);
            return;
        }

        writer.WriteStringValue(text);
    }

    // JSON forbids leading zeros ("007") and a bare trailing point ("1."); such text is rewritten through double.
    private static string Normalize(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Number ? text : Fallback(text);
        }
        catch (JsonException)
        {
            return Fallback(text);
        }
    }

    private static string Fallback(string text) =>
        double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture);
}
