using ShampooMkl.Analysis.Models;
using ShampooMkl.Optim;

namespace ShampooMkl.Synthetic;

/// <summary>The seeded parameters and gradients whose optimizer steps are timed: the same shapes and, up to rounding, the
/// same values in every run and on every machine.</summary>
/// <remarks>
/// <para>What is bit-identical and what is not: the seeded values (weights, examples, labels, the blocked weight's
/// gradient) come from <see cref="Random(int)"/> in managed code, so they differ at most in the last bit of the C
/// runtime's log/cos/sin between platforms. The MLP's gradients come from a forward/backward pass through the default
/// BLAS backend, so their last bits depend on the backend (MKL or OpenBLAS), its version, the CPU's kernels and the
/// thread count. The timed work (shapes, flops, code paths) is the same either way.</para>
/// <para>
/// One source file compiled into both timing harnesses, the benchmarks (perf/ShampooMkl.Benchmarks) and the MPI host's
/// <c>bench-refresh</c> (tests/ShampooMkl.MpiHost), so both time the same work; it is not part of the shipped libraries.
/// </para>
/// </remarks>
internal static class SyntheticWorkload
{
    /// <summary>Examples in the MLP's synthetic batch.</summary>
    public const int MlpBatch = 128;

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

    /// <summary><see cref="Gaussian"/> rounded to fp32.</summary>
    public static float[] GaussianSingle(int seed, int count, double sigma = 1.0) =>
        Array.ConvertAll(Gaussian(seed, count, sigma), x => (float)x);

    /// <summary>The 784-256-128-10 MLP (seed 0) with the gradients of one forward/backward pass over
    /// <see cref="MlpBatch"/> uniform [0, 1) examples with uniform random labels (seed 1), on the default BLAS backend.</summary>
    public static IReadOnlyList<Parameter> MlpWithGradients()
    {
        var mlp = new Mlp(maxBatchSize: MlpBatch, seed: 0);
        var random = new Random(1);
        var inputs = new float[MlpBatch * mlp.InputFeatures];
        for (var i = 0; i < inputs.Length; i++)
        {
            inputs[i] = (float)random.NextDouble();
        }

        var labels = new byte[MlpBatch];
        for (var i = 0; i < MlpBatch; i++)
        {
            labels[i] = (byte)random.Next(mlp.Classes);
        }

        mlp.ForwardBackward(inputs, labels, MlpBatch);
        return mlp.Parameters;
    }

    /// <summary>One 2048×4096 weight, values N(0, 0.01²) (seed 11) and gradient N(0, 1) (seed 12): eight 1024×1024 Shampoo
    /// blocks at MaxPreconditionerDim 1024, so the blocking path (strided block views into one gradient) is timed too.</summary>
    public static Parameter Blocked8x1024()
    {
        const int rows = 2048;
        const int cols = 4096;
        var weight = new Parameter("w", GaussianSingle(11, rows * cols, 0.01), rows, cols);
        GaussianSingle(12, rows * cols, 1.0).CopyTo(weight.Gradient, 0);
        return weight;
    }
}
