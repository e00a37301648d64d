using System.Text.Json;
using System.Text.Json.Serialization;

namespace ShampooMkl.Analysis.Experiments;

/// <summary>Cosines of the Kronecker approximations to H = Σ wᵢ gᵢgᵢᵀ of a set of stored gradients (the <c>analyze --gradients</c> output).</summary>
/// <param name="Count">N, gradients in the file.</param>
/// <param name="Rows">m.</param>
/// <param name="Cols">n.</param>
/// <param name="DType">The file's dtype (e.g. &lt;f4).</param>
/// <param name="Weighted">Whether weights were given (otherwise uniform 1/N).</param>
/// <param name="HNorm">‖H‖_F (of the gradients multiplied by 2^−<paramref name="ScaleExponent"/>).</param>
/// <param name="Trace">Tr(H) = Σ wᵢ‖Gᵢ‖²_F (likewise).</param>
/// <param name="Optimal">cos(H, optimal Kronecker approximation) from the power iteration.</param>
/// <param name="ShampooSquared">cos(H, L⊗R).</param>
/// <param name="Shampoo">cos(H, L^{1/2}⊗R^{1/2}).</param>
/// <param name="PowerIterations">Passes the power iteration made.</param>
/// <param name="Converged">Whether it reached the tolerance.</param>
/// <param name="Change">‖ΔA‖_F + ‖ΔB‖_F of its last pass.</param>
/// <param name="Residual">‖H − σA⊗B‖_F/‖H‖_F of the optimum, = √(1 − cos²).</param>
/// <param name="Seconds">Wall time of the analysis (without reading the file).</param>
/// <param name="ScaleExponent">0, unless ‖H‖ or Tr(H) of the file's gradients is outside the fp64 range (gradients near
/// 1e±170): then e, and <paramref name="HNorm"/>, <paramref name="Trace"/> are those of the gradients times 2^−e (the file's
/// are 4^e times larger). The cosines never depend on it.</param>
public sealed record GradientFileMetrics(
    int Count, int Rows, int Cols, [property: JsonPropertyName("dtype")] string DType, bool Weighted, double HNorm, double Trace,
    double Optimal, double ShampooSquared, double Shampoo,
    int PowerIterations, bool Converged, double Change, double Residual, double Seconds, int ScaleExponent = 0)
{
    /// <summary>Version of this JSON layout written by this build.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Layout version of the file, written first so a consumer can check it before reading the rest.</summary>
    [JsonPropertyOrder(-1)]
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ExperimentsJsonContext.Readable.GradientFileMetrics);

    /// <summary>Parses the JSON of <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The text is not such a document.</exception>
    public static GradientFileMetrics FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ExperimentsJsonContext.Default.GradientFileMetrics)
                ?? throw new InvalidDataException("The JSON holds null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Not valid gradient metrics: {e.Message}", e);
        }
    }
}
