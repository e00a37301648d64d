namespace ShampooMkl.Tests.Reference;

/// <summary>Reproducible synthetic data: the same seed gives the same numbers on every machine and run.</summary>
/// <remarks>
/// Built on <see cref="Random(int)"/>, whose seeded sequence .NET keeps stable across versions, with our
/// own Box–Muller transform so the Gaussian stream does not depend on any library's sampler.
/// </remarks>
public static class SeededRandom
{
    /// <summary><paramref name="count"/> independent N(0, 1) samples.</summary>
    public static double[] Gaussian(int seed, int count)
    {
        var values = new double[count];
        FillGaussian(new Random(seed), values);
        return values;
    }

    public static float[] GaussianSingle(int seed, int count) =>
        Gaussian(seed, count).Select(x => (float)x).ToArray();

    /// <summary>Fills <paramref name="values"/> with N(0, 1) samples, two per pair of uniforms.</summary>
    public static void FillGaussian(Random random, Span<double> values)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            // 1 − U lies in (0, 1], so the logarithm is finite.
            double radius = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
            double angle = 2 * Math.PI * random.NextDouble();
            values[i] = radius * Math.Cos(angle);
            if (i + 1 < values.Length)
            {
                values[i + 1] = radius * Math.Sin(angle);
            }
        }
    }

    /// <summary>Uniform samples in [low, high).</summary>
    public static double[] Uniform(int seed, int count, double low = 0, double high = 1)
    {
        var random = new Random(seed);
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = low + ((high - low) * random.NextDouble());
        }

        return values;
    }

    /// <summary>
    /// A random symmetric positive-definite n×n matrix X Xᵀ/k + shift·I (X n×k Gaussian); the shift keeps
    /// its condition number bounded so inverse roots are well defined in tests.
    /// </summary>
    public static double[] SymmetricPositiveDefinite(int seed, int n, double shift = 0.1, int? rank = null)
    {
        int k = rank ?? n;
        double[] x = Gaussian(seed, n * k);
        double[] product = DenseMatrix.Multiply(x, n, k, DenseMatrix.Transpose(x, n, k), k, n);
        for (int i = 0; i < product.Length; i++)
        {
            product[i] /= k;
        }

        for (int i = 0; i < n; i++)
        {
            product[(i * n) + i] += shift;
        }

        return product;
    }
}
