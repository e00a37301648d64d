using System.Text.Json.Serialization;

namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Source-generated JSON metadata, so writing the report needs no reflection (trimming friendly).</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(DoctorReport))]
internal sealed partial class DoctorJsonContext : JsonSerializerContext;
