using System.Diagnostics;
using ShampooMkl.Linalg;
using ShampooMkl.Native;
using Xunit.Abstractions;

namespace ShampooMkl.Tests.Linalg;

/// <summary>Runs only when <c>SHAMPOO_LARGE_TESTS=1</c>: a full-size layer takes minutes and 2+ GB, too much for every test run.</summary>
internal sealed class LargeScaleFactAttribute : FactAttribute
{
    public const string Variable = "SHAMPOO_LARGE_TESTS";

    public LargeScaleFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
        {
            Skip = $"Full-size timing; set {Variable}=1 to run.";
        }
    }
}

/// <summary>Wall-clock timings of the H metrics on the paper's first MLP layer shape (256×784, N = 2,000, fp32 storage).</summary>
public sealed class KroneckerTimingTests(ITestOutputHelper output)
{
    [LargeScaleFact]
    public void FullSizeLayer_GramNormPowerIterationAndCosines()
    {
        const int m = 256;
        const int n = 784;
        const int count = 2000;
        var clock = Stopwatch.StartNew();
        float[] stack = RandomStack(count * m * n);
        var sample = new GradientSample<float>(stack, count, m, n);
        Report("fill + validate (1.6 GB fp32)", clock);

        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        Report($"‖H‖_F via Gram (blocked fp64 syrk, N={count}) = {hNorm:G6}", clock);

        ShampooStatistics stats = KroneckerApproximations.ComputeStatistics(sample);
        Report("L, R (fp64 syrk)", clock);

        KroneckerPair squared = KroneckerApproximations.ShampooSquared(stats);
        KroneckerPair shampoo = KroneckerApproximations.Shampoo(stats);
        Report("Shampoo² and Shampoo factors (2 syevd)", clock);

        var passes = new List<double>();
        var pass = Stopwatch.StartNew();
        OptimalKroneckerResult optimal = OptimalKroneckerApproximation.Compute(sample, new PowerIterationOptions
        {
            MaxIterations = 10,
            Tolerance = 0,
            Progress = _ =>
            {
                passes.Add(pass.Elapsed.TotalSeconds);
                pass.Restart();
            },
        });
        Report($"10 power iterations + final σ pass (per pass {string.Join(", ", passes.Select(s => s.ToString("F1")))} s)", clock);

        double cosSquared = KroneckerSimilarity.Cosine(sample, squared, hNorm);
        Report($"cos(H, Shampoo²) = {cosSquared:F6}", clock);
        double cosShampoo = KroneckerSimilarity.Cosine(sample, shampoo, hNorm);
        Report($"cos(H, Shampoo) = {cosShampoo:F6}", clock);
        output.WriteLine($"cos(H, optimal) = {optimal.Cosine(hNorm):F6} (free from σ), last change {optimal.RelativeChange:E2}");
        output.WriteLine($"BLAS: {BlasLibrary.Default}, threads {BlasLibrary.Default.MaxThreads}");

        Assert.True(optimal.Cosine(hNorm) >= cosSquared - 1e-9, "the optimum cannot be worse than its own first step");
    }

    // Uniform(−1, 1) from a per-thread xorshift: Box–Muller for 4·10⁸ values would dominate the timing being measured.
    private static float[] RandomStack(int length)
    {
        var data = new float[length];
        const int blocks = 64;
        int per = (length + blocks - 1) / blocks;
        Parallel.For(0, blocks, b =>
        {
            ulong state = 0x9E3779B97F4A7C15UL * (ulong)(b + 1);
            int end = Math.Min(length, (b + 1) * per);
            for (int i = b * per; i < end; i++)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                data[i] = (float)(((state >> 40) * (1.0 / (1UL << 24) * 2)) - 1);
            }
        });
        return data;
    }

    private void Report(string what, Stopwatch clock)
    {
        output.WriteLine($"{clock.Elapsed.TotalSeconds,7:F1} s  {what}");
        clock.Restart();
    }
}
