namespace ShampooMkl.Analysis.Data;

/// <summary>A set of flattened images with one label each, kept as flat arrays so batches slice without copying.</summary>
public sealed record LabeledImages
{
    /// <param name="images">Count × features values, row-major (image i starts at i·features).</param>
    /// <param name="labels">One class index per image.</param>
    /// <param name="features">Values per image.</param>
    public LabeledImages(float[] images, byte[] labels, int features = MnistDataset.Features)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        if ((long)labels.Length * features != images.Length)
        {
            throw new ArgumentException(
                $"{images.Length} image values do not match {labels.Length} labels × {features} features.",
                nameof(images));
        }

        Images = images;
        Labels = labels;
        Features = features;
    }

    public float[] Images { get; }

    public byte[] Labels { get; }

    public int Features { get; }

    public int Count => Labels.Length;

    public ReadOnlySpan<float> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Images.AsSpan(index * Features, Features);
    }

    /// <summary>Images per label value, indexed by label.</summary>
    public int[] ClassCounts(int classCount = MnistDataset.ClassCount)
    {
        var counts = new int[classCount];
        foreach (byte label in Labels)
        {
            counts[label]++;
        }

        return counts;
    }

    /// <summary>
    /// Keeps only images of <paramref name="classA"/> and <paramref name="classB"/>, relabelled 0 and 1,
    /// in their original order. Two classes make a binary problem whose output layer is tiny, which is
    /// what lets the full Gauss–Newton matrix be formed in tests.
    /// </summary>
    public LabeledImages BinarySubset(int classA, int classB)
    {
        if (classA == classB)
        {
            throw new ArgumentException($"The two classes must differ (both are {classA}).", nameof(classB));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(classA);
        ArgumentOutOfRangeException.ThrowIfNegative(classB);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classA, byte.MaxValue);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classB, byte.MaxValue);

        int kept = 0;
        foreach (byte label in Labels)
        {
            if (label == classA || label == classB)
            {
                kept++;
            }
        }

        var images = new float[kept * Features];
        var labels = new byte[kept];
        int next = 0;
        for (int i = 0; i < Count; i++)
        {
            byte label = Labels[i];
            if (label != classA && label != classB)
            {
                continue;
            }

            Image(i).CopyTo(images.AsSpan(next * Features, Features));
            labels[next] = label == classA ? (byte)0 : (byte)1;
            next++;
        }

        return new LabeledImages(images, labels, Features);
    }

    /// <summary>Copies the images at <paramref name="indices"/>, in that order.</summary>
    public LabeledImages Select(ReadOnlySpan<int> indices)
    {
        var images = new float[indices.Length * Features];
        var labels = new byte[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            Image(indices[k]).CopyTo(images.AsSpan(k * Features, Features));
            labels[k] = Labels[indices[k]];
        }

        return new LabeledImages(images, labels, Features);
    }
}
