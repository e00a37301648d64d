using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Training;

/// <summary>A small, seeded, learnable classification problem and a stateful stand-in optimizer for trainer tests.</summary>
internal static class TrainingTestData
{
    public const int Features = 12;
    public const int Classes = 3;

    /// <summary>Gaussian blobs around one fixed centre per class, so a few epochs make visible progress.</summary>
    public static LabeledImages Blobs(int count, int seed)
    {
        var centres = Reference.SeededRandom.Gaussian(1234, Classes * Features);
        var noise = Reference.SeededRandom.Gaussian(seed, count * Features);
        var random = new Random(seed + 1);
        var images = new float[count * Features];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var c = random.Next(Classes);
            labels[i] = (byte)c;
            for (var k = 0; k < Features; k++)
            {
                images[(i * Features) + k] = (float)(centres[(c * Features) + k] + (0.8 * noise[(i * Features) + k]));
            }
        }

        return new LabeledImages(images, labels, Features);
    }

    public static Analysis.Models.Mlp SmallMlp(int maxBatchSize, int seed = 5) =>
        new([10, 8], inputFeatures: Features, classes: Classes, maxBatchSize: maxBatchSize, seed: seed);

    public static List<float[]> Snapshot(IReadOnlyList<Parameter> parameters) => parameters.Select(p => (float[])p.Value.Clone()).ToList();
}

/// <summary>SGD with heavy-ball momentum: just enough state to show that a resume must restore more than the weights.</summary>
internal sealed class MomentumSgd(IReadOnlyList<Parameter> parameters, float learningRate = 0.05f, float beta = 0.9f) : IOptimizer
{
    private readonly float[][] velocity = parameters.Select(p => new float[p.Length]).ToArray();

    public IReadOnlyList<Parameter> Parameters => parameters;

    public long StepCount { get; private set; }

    public double CurrentLearningRate => learningRate;

    public int GroupCount => 1;

    public double GetLearningRate(int group) => group == 0 ? learningRate : throw new ArgumentOutOfRangeException(nameof(group));

    public double GetCurrentLearningRate(int group) => GetLearningRate(group);

    public void SetLearningRate(int group, double rate)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(group, 0);
        learningRate = (float)rate;
    }

    public OptimizerStatistics Statistics { get; } = new();

    public StepResult Step()
    {
        if (parameters.Any(p => p.Gradient.Any(g => !float.IsFinite(g))))
        {
            Statistics.SkippedSteps++;
            return new StepResult(false, false, "non-finite gradient");
        }

        for (var i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            var v = velocity[i];
            for (var k = 0; k < p.Length; k++)
            {
                v[k] = (beta * v[k]) + p.Gradient[k];
                p.Value[k] -= learningRate * v[k];
            }
        }

        StepCount++;
        return new StepResult(true, false, null);
    }

    public void Dispose()
    {
    }

    /// <summary>Saves values, velocities and the step count in one binary file.</summary>
    public sealed class Checkpointer : IOptimizerCheckpointer
    {
        public int Saves { get; private set; }

        public void Save(IOptimizer optimizer, string folder)
        {
            var sgd = (MomentumSgd)optimizer;
            using var writer = new BinaryWriter(File.Create(Path.Combine(folder, "sgd.bin")));
            writer.Write(sgd.StepCount);
            for (var i = 0; i < sgd.Parameters.Count; i++)
            {
                foreach (var x in sgd.Parameters[i].Value)
                {
                    writer.Write(x);
                }

                foreach (var x in sgd.velocity[i])
                {
                    writer.Write(x);
                }
            }

            Saves++;
        }

        public void Load(IOptimizer optimizer, string folder)
        {
            var sgd = (MomentumSgd)optimizer;
            using var reader = new BinaryReader(File.OpenRead(Path.Combine(folder, "sgd.bin")));
            sgd.StepCount = reader.ReadInt64();
            for (var i = 0; i < sgd.Parameters.Count; i++)
            {
                var value = sgd.Parameters[i].Value;
                for (var k = 0; k < value.Length; k++)
                {
                    value[k] = reader.ReadSingle();
                }

                var v = sgd.velocity[i];
                for (var k = 0; k < v.Length; k++)
                {
                    v[k] = reader.ReadSingle();
                }
            }
        }
    }
}

/// <summary>A temporary folder deleted when the test ends.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "shampoo-mkl-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test.
        }
    }
}
