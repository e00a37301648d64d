using System.Text.Json.Serialization;
using ShampooMkl.Analysis.Training;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>The outcome of a <see cref="HessianTracking"/> run: its configuration and every measurement.</summary>
public sealed record HessianReport
{
    /// <summary>Version of this JSON layout; <see cref="CurrentFormatVersion"/> when written by this build.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Layout version of the file, written first so a consumer can check it before reading the rest.</summary>
    [JsonPropertyOrder(-1)]
    public int FormatVersion { get; init; } = CurrentFormatVersion;

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

    /// <summary>The optimizer's settings as invariant text; JSON holds them typed (numbers, booleans, strings).</summary>
    [JsonConverter(typeof(HyperparameterJsonConverter))]
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
