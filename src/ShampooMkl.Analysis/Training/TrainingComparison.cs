using System.Text.Json.Serialization;

namespace ShampooMkl.Analysis.Training;

/// <summary>Several runs on the same data, e.g. one per optimizer in the demo.</summary>
public sealed record TrainingComparison
{
    /// <summary>Version of this JSON layout; <see cref="CurrentFormatVersion"/> when written by this build.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Layout version of the file, written first so a consumer can check it before reading the rest.</summary>
    [JsonPropertyOrder(-1)]
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>What the runs share (data set, model), in words.</summary>
    public required string Description { get; init; }

    /// <summary>BLAS backend and version.</summary>
    public string? Backend { get; init; }

    /// <summary>When the comparison was produced (UTC, ISO 8601).</summary>
    public string? CreatedUtc { get; init; }

    /// <summary>Wall time of the whole comparison, including data loading.</summary>
    public double TotalSeconds { get; init; }

    /// <summary>The runs.</summary>
    public IReadOnlyList<TrainingReport> Runs { get; init; } = [];
}
