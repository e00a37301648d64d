using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>Seeded synthetic inputs, identical in every run and on every machine.</summary>
internal static class Workloads
{
    /// <summary>N(0, σ²) samples by Box–Muller over <see cref="Random(int)"/>, whose seeded sequence .NET keeps stable.</summary>
    public static double[] Gaussian(int seed, int count, double sigma = 1.0)
    {
        var random = new Random(seed);
        var values = new double[count];
        for (var i = 0; i < count; i += 2)
        {
            var radius = sigma * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
            var angle = 2 * Math.PI * random.NextDouble();
            values[i] = radius * Math.Cos(angle);
            if (i + 1 < count)
            {
                values[i + 1] = radius * Math.Sin(angle);
            }
        }

        return values;
    }

    public static float[] GaussianSingle(int seed, int count, double sigma = 1.0) =>
        Array.ConvertAll(Gaussian(seed, count, sigma), x => (float)x);

    /// <summary>A Shampoo-like statistic: X·Xᵀ/(2n) + δ·I with X n×2n Gaussian.</summary>
    /// <remarks>The Marchenko–Pastur spectrum of ratio ½ lies in [0.086, 2.91], so κ ≈ 34 (with δ = 10⁻³): a factor after
    /// a few dozen gradients, well conditioned enough that every root method converges, which is what a timing needs.</remarks>
    public static double[] Statistic(int seed, int n, BlasBackend blas, double delta = 1e-3)
    {
        var k = 2 * n;
        var x = Gaussian(seed, n * k);
        var a = new double[n * n];
        SymmetricRankUpdate.Update<double>(new ReadOnlyMatrixView<double>(x, n, k), transpose: false,
            new MatrixView<double>(a, n, n), 1.0 / k, 0.0, mirrorLower: true, blas);
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] += delta;
        }

        return a;
    }

    /// <summary><paramref name="a"/> plus a tenth of another statistic: what ten more gradients do between two refreshes.</summary>
    public static double[] Perturbed(double[] a, int seed, int n, BlasBackend blas)
    {
        var b = Statistic(seed, n, blas, delta: 0);
        var result = new double[a.Length];
        for (var i = 0; i < a.Length; i++)
        {
            result[i] = a[i] + (0.1 * b[i]);
        }

        return result;
    }
}
