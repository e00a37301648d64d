using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Experiments;

/// <summary>Seeded synthetic samples and data sets for the experiment tests.</summary>
internal static class ExperimentTestData
{
    /// <summary>A factored sample of one of four shapes: plain rank-one; rank-one sharing inputs (like the exact
    /// Gauss–Newton sample) with weights; rank-one plus two dense gradients; dense gradients only.</summary>
    public static FactoredGradientSample Sample(string kind, int seed, int m, int n)
    {
        const int examples = 7;
        const int classes = 3;
        double[] inputs = SeededRandom.Gaussian(seed, examples * n);
        return kind switch
        {
            "rank-one" => new FactoredGradientSample(SeededRandom.Gaussian(seed + 1, examples * m), examples, m, inputs, examples, n),
            "shared-inputs" => new FactoredGradientSample(
                SeededRandom.Gaussian(seed + 1, examples * classes * m), examples * classes, m, inputs, examples, n,
                Enumerable.Range(0, examples * classes).Select(k => k / classes).ToArray(), SeededRandom.Uniform(seed + 2, examples * classes, 0.05, 1)),
            "mixed" => new FactoredGradientSample(
                SeededRandom.Gaussian(seed + 1, examples * m), examples, m, inputs, examples, n, null,
                SeededRandom.Uniform(seed + 2, examples + 2, 0.1, 1), SeededRandom.Gaussian(seed + 3, 2 * m * n)),
            "dense-only" => new FactoredGradientSample([], 0, m, [], 0, n, null, SeededRandom.Uniform(seed + 2, 4, 0.1, 1), SeededRandom.Gaussian(seed + 3, 4 * m * n)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown sample kind."),
        };
    }

    /// <summary>count images of <paramref name="features"/> Gaussian values with labels that depend on the image (so training
    /// makes progress), from a fixed seed.</summary>
    public static LabeledImages Images(int seed, int count, int features, int classes)
    {
        float[] images = SeededRandom.GaussianSingle(seed, count * features);
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            // The label is the class of the largest of the first `classes` features: learnable by every model.
            int best = 0;
            for (int c = 1; c < classes; c++)
            {
                if (images[(i * features) + c] > images[(i * features) + best])
                {
                    best = c;
                }
            }

            labels[i] = (byte)best;
        }

        return new LabeledImages(images, labels, features);
    }
}
