namespace PackageQuickstart;

/// <summary>A regression with badly scaled, correlated inputs: z = M·e mixes d independent standard normals e (M has
/// N(0, 1/d) entries), feature j of x is z_j times 10^(−3 + 6j/(d−1)), so the scales span 1e-3 … 1e3, and the target
/// is a small tanh network of the unscaled z. Fixed seed.</summary>
/// <remarks>A per-coordinate method (Adam) can undo the scales but not the correlations; Shampoo's Kronecker factor on
/// the input side of the first layer sees both.</remarks>
internal sealed class ScaledRegression
{
    public ScaledRegression(int samples, int features, int seed)
    {
        Samples = samples;
        Features = features;
        Inputs = new float[samples * features];
        Targets = new float[samples];
        var random = new Random(seed);
        var scales = Enumerable.Range(0, features).Select(j => Math.Pow(10, -3 + 6.0 * j / (features - 1))).ToArray();

        // Teacher: 4 tanh units of the unscaled z, so every feature matters whatever its scale.
        const int teacherUnits = 4;
        var u = Enumerable.Range(0, teacherUnits * features).Select(_ => Normal(random) / Math.Sqrt(features)).ToArray();
        var v = Enumerable.Range(0, teacherUnits).Select(_ => Normal(random)).ToArray();
        var mixing = Enumerable.Range(0, features * features).Select(_ => Normal(random) / Math.Sqrt(features)).ToArray();
        var e = new double[features];
        var z = new double[features];
        for (var n = 0; n < samples; n++)
        {
            for (var i = 0; i < features; i++)
            {
                e[i] = Normal(random);
            }

            for (var j = 0; j < features; j++)
            {
                z[j] = 0;
                for (var i = 0; i < features; i++)
                {
                    z[j] += mixing[j * features + i] * e[i];
                }

                Inputs[n * features + j] = (float)(z[j] * scales[j]);
            }

            double y = 0;
            for (var k = 0; k < teacherUnits; k++)
            {
                double a = 0;
                for (var j = 0; j < features; j++)
                {
                    a += u[k * features + j] * z[j];
                }

                y += v[k] * Math.Tanh(a);
            }

            Targets[n] = (float)y;
        }
    }

    public int Samples { get; }

    public int Features { get; }

    /// <summary>Row-major, <see cref="Samples"/> × <see cref="Features"/>.</summary>
    public float[] Inputs { get; }

    public float[] Targets { get; }

    /// <summary>A standard normal (Box–Muller), from <paramref name="random"/> only, so runs repeat exactly.</summary>
    public static double Normal(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
