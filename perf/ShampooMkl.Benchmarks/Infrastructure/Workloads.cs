using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Synthetic;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>Seeded synthetic inputs, identical in every run and on every machine.</summary>
internal static class Workloads
{
    /// <summary>N(0, σ²) samples (<see cref="SyntheticWorkload.Gaussian"/>).</summary>
    public static double[] Gaussian(int seed, int count, double sigma = 1.0) => SyntheticWorkload.Gaussian(seed, count, sigma);

    /// <summary>N(0, σ²) samples rounded to fp32.</summary>
    public static float[] GaussianSingle(int seed, int count, double sigma = 1.0) => SyntheticWorkload.GaussianSingle(seed, count, sigma);

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
