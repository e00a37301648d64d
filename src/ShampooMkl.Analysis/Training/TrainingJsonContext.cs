using System.Text.Json.Serialization;

namespace ShampooMkl.Analysis.Training;

// A diverged run has NaN losses; named literals keep such a report writable instead of throwing at the end of a long run.
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(TrainingReport))]
[JsonSerializable(typeof(TrainingComparison))]
[JsonSerializable(typeof(TrainingCheckpointState))]
internal sealed partial class TrainingJsonContext : JsonSerializerContext;
