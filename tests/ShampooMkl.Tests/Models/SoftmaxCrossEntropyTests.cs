using ShampooMkl.Analysis.Models;

namespace ShampooMkl.Tests.Models;

/// <summary>Softmax cross-entropy against values worked out by hand, and its behaviour at extreme logits.</summary>
public sealed class SoftmaxCrossEntropyTests
{
    [Fact]
    public void Forward_MatchesHandComputation()
    {
        // Row 0: z = (1, 2, 3), y = 2. Σe^z = e + e² + e³ = 30.19287485, so p = (0.09003057, 0.24472847, 0.66524096)
        // and ℓ = ln 30.19287485 − 3 = 0.40760596. Row 1: z = (0, 0, 0), y = 0: p = 1/3 each, ℓ = ln 3 = 1.09861229.
        float[] logits = [1f, 2f, 3f, 0f, 0f, 0f];
        byte[] labels = [2, 0];
        var probabilities = new float[6];

        var loss = SoftmaxCrossEntropy.Forward(logits, labels, 2, 3, probabilities);

        Assert.Equal((0.40760596 + 1.09861229) / 2, loss, 6);
        double[] expected = [0.09003057, 0.24472847, 0.66524096, 1 / 3.0, 1 / 3.0, 1 / 3.0];
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(expected[i], probabilities[i], 6);
        }
    }

    [Fact]
    public void Gradient_IsProbabilitiesMinusOneHotOverBatch()
    {
        float[] probabilities = [0.09003057f, 0.24472847f, 0.66524096f, 1 / 3f, 1 / 3f, 1 / 3f];
        byte[] labels = [2, 0];
        var gradient = new float[6];

        SoftmaxCrossEntropy.Gradient(probabilities, labels, 2, 3, gradient);

        double[] expected = [0.09003057 / 2, 0.24472847 / 2, (0.66524096 - 1) / 2, (1 / 3.0 - 1) / 2, 1 / 6.0, 1 / 6.0];
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(expected[i], gradient[i], 6);
        }
    }

    [Fact]
    public void Forward_StaysFiniteForHugeLogits()
    {
        // exp(1000) overflows fp32 and fp64 alike; the shifted form gives ℓ = ln(1 + e⁻¹) for the winner and
        // ln(1 + e) for the loser, and a loss of 1000 when the true class is 1000 below the best.
        float[] logits = [1000f, 999f, 999f, 1000f, 0f, 1000f];
        byte[] labels = [0, 0, 0];
        var probabilities = new float[6];

        var loss = SoftmaxCrossEntropy.Forward(logits, labels, 3, 2, probabilities);

        Assert.Equal((Math.Log(1 + Math.Exp(-1)) + Math.Log(1 + Math.Exp(1)) + 1000) / 3, loss, 3);
        Assert.All(probabilities, p => Assert.True(float.IsFinite(p)));
        Assert.Equal(0f, probabilities[4]);
    }

    [Fact]
    public void Forward_ThrowsForLabelOutOfRange()
    {
        var probabilities = new float[3];
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward([1f, 2f, 3f], [3], 1, 3, probabilities));
    }

    [Fact]
    public void Forward_ThrowsForTooShortDestination()
    {
        var probabilities = new float[2];
        Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Forward([1f, 2f, 3f], [0], 1, 3, probabilities));
    }

    [Fact]
    public void SampleLabels_FollowsTheProbabilities()
    {
        const int draws = 40_000;
        float[] row = [0.1f, 0.0f, 0.6f, 0.3f];
        var probabilities = new float[draws * 4];
        for (var i = 0; i < draws; i++)
        {
            row.CopyTo(probabilities, i * 4);
        }

        var labels = new byte[draws];
        SoftmaxCrossEntropy.SampleLabels(probabilities, draws, 4, new Random(5), labels);

        var counts = new int[4];
        foreach (var label in labels)
        {
            counts[label]++;
        }

        // Binomial standard deviation √(n p (1 − p)) ≤ 100 here; five of them is a fixed-seed margin, not a flake.
        Assert.Equal(0, counts[1]);
        for (var c = 0; c < 4; c++)
        {
            Assert.InRange(counts[c], (row[c] * draws) - 500, (row[c] * draws) + 500);
        }
    }
}
