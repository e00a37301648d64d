using System.Text.Json;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Optim;

namespace ShampooMkl.Benchmarks.Peers;

/// <summary>Writes a model's parameters and gradients for the torch peer (raw little-endian fp32 and a manifest) and reads back its weights.</summary>
internal static class PeerData
{
    public static void Write(string folder, IReadOnlyList<Parameter> parameters, ShampooOptions options, double checkEpsilon)
    {
        Directory.CreateDirectory(folder);
        var entries = new List<object>();
        for (var i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            var value = $"p{i}.value.f32";
            var gradient = $"p{i}.gradient.f32";
            WriteFloats(Path.Combine(folder, value), p.Value);
            WriteFloats(Path.Combine(folder, gradient), p.Gradient);
            entries.Add(new { name = p.Name, shape = p.Shape, value, gradient });
        }

        var manifest = new
        {
            parameters = entries,
            options = new
            {
                learningRate = options.LearningRate,
                beta1 = options.Beta1,
                epsilon = options.Epsilon,
                checkEpsilon,
                root = options.Root,
                graftingEpsilon = options.EffectiveGraftingEpsilon,
                diagonalEpsilon = options.DiagonalEpsilon,
                maxPreconditionerDim = options.MaxPreconditionerDim,
            },
        };
        File.WriteAllText(Path.Combine(folder, "manifest.json"), JsonSerializer.Serialize(manifest));
    }

    public static float[] ReadFloats(string file, int count)
    {
        var bytes = File.ReadAllBytes(file);
        if (bytes.Length != count * sizeof(float))
        {
            throw new InvalidDataException($"{file} has {bytes.Length} bytes, expected {count * sizeof(float)}.");
        }

        var values = new float[count];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }

    private static void WriteFloats(string file, float[] values)
    {
        // Little-endian on every platform .NET runs the benchmarks on; numpy reads "<f4".
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(file, bytes);
    }

    /// <summary>A deep copy (values and gradients), so several optimizers can start from the same state.</summary>
    public static Parameter[] Clone(IReadOnlyList<Parameter> parameters) => parameters.Select(p =>
    {
        var copy = new Parameter(p.Name, (float[])p.Value.Clone(), [.. p.Shape]);
        p.Gradient.CopyTo(copy.Gradient, 0);
        return copy;
    }).ToArray();
}
