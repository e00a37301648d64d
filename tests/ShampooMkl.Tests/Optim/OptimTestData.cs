using System.Runtime.InteropServices;
using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>Small models, reproducible gradients and state comparisons shared by the optimizer tests.</summary>
internal static class OptimTestData
{
    /// <summary>Shapes covering every path: a matrix that blocks at 4 (6×5 → 4,2 × 4,1), a rank-3 tensor merged to 3×4,
    /// a vector, and a 1×7 "matrix" that is really a vector.</summary>
    public static readonly int[][] SmallShapes = [[6, 5], [3, 2, 2], [5], [1, 7]];

    /// <summary>Fresh parameters with seeded N(0, 1) values.</summary>
    public static Parameter[] Parameters(int[][] shapes, int seed = 10) =>
        shapes.Select((s, k) => new Parameter($"p{k}", SeededRandom.GaussianSingle(seed + k, s.Aggregate(1, (a, b) => a * b)), s)).ToArray();

    /// <summary>The gradient of parameter <paramref name="index"/> at <paramref name="step"/>: the same numbers in every run.</summary>
    /// <remarks>A fixed component plus noise, so the statistics have a dominant structure as real gradients do.</remarks>
    public static float[] Gradient(int length, int index, long step, double noise = 0.5)
    {
        var fixedPart = SeededRandom.Gaussian(1000 + index, length);
        var random = SeededRandom.Gaussian((int)(7919 * step) + (31 * index), length);
        return fixedPart.Zip(random, (a, b) => (float)(a + (noise * b))).ToArray();
    }

    /// <summary>Writes step <paramref name="step"/>'s gradients into the parameters and returns copies.</summary>
    public static float[][] SetGradients(IReadOnlyList<Parameter> parameters, long step)
    {
        var all = new float[parameters.Count][];
        for (var k = 0; k < parameters.Count; k++)
        {
            all[k] = Gradient(parameters[k].Length, k, step);
            all[k].CopyTo(parameters[k].Gradient, 0);
        }

        return all;
    }

    /// <summary>Exact equality of two exported states: names, shapes and every bit of every value.</summary>
    public static void AssertSameState(IReadOnlyList<StateTensor> expected, IReadOnlyList<StateTensor> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: {expected.Count} tensors before, {actual.Count} after.");
        for (var i = 0; i < expected.Count; i++)
        {
            var e = expected[i];
            var a = actual[i];
            Assert.True(e.Name == a.Name, $"{what}: tensor {i} is '{a.Name}', expected '{e.Name}'.");
            Assert.True(e.Shape.AsSpan().SequenceEqual(a.Shape), $"{what}: shape of '{e.Name}' differs.");
            Assert.True(MemoryMarshal.AsBytes(e.Data.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(a.Data.AsSpan())),
                $"{what}: values of '{e.Name}' differ.");
        }
    }

    /// <summary>Bitwise equality of parameter values.</summary>
    public static void AssertSameValues(IReadOnlyList<float[]> expected, IReadOnlyList<Parameter> actual, string what)
    {
        for (var k = 0; k < expected.Count; k++)
        {
            Assert.True(MemoryMarshal.AsBytes(expected[k].AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(actual[k].Value.AsSpan())),
                $"{what}: parameter '{actual[k].Name}' differs.");
        }
    }

    /// <summary>Compares parameters after an update: allowed error is <paramref name="ulps"/> fp32 ulps of the largest
    /// value (the storage precision, which no computation can beat) plus <paramref name="relative"/> of the largest
    /// change since <paramref name="initial"/> (the precision of the update itself).</summary>
    public static void AssertUpdateClose(float[] initial, float[] expected, float[] actual, double relative, double ulps, string what)
    {
        var scale = expected.Max(x => Math.Abs((double)x));
        var change = expected.Zip(initial, (e, w) => Math.Abs((double)e - w)).Max();
        Assert.True(change > 0, $"{what}: the reference did not move.");
        var abs = (ulps * scale * Math.Pow(2, -23)) + (relative * change);
        Tolerance.AssertClose(expected, actual, 0, abs, what);
    }
}
