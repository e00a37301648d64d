using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Optim;

namespace ShampooMkl.Benchmarks.Suites;

/// <summary>A steady-state <see cref="Shampoo.Step"/> (no root refresh): statistics, direction, grafting, momentum, update.</summary>
/// <remarks>Roots are computed once in setup (step 1) and the refresh frequency is infinite, so every timed step is a
/// non-refresh step; such a step must allocate nothing (the Allocated column). Refresh steps are timed by
/// <see cref="RefreshStepBenchmarks"/>.</remarks>
public class OptimizerStepBenchmarks : BackendBenchmark
{
    private Shampoo optimizer = null!;

    /// <summary>The model.</summary>
    [Params(BenchModel.Mlp, BenchModel.Blocked8x1024)]
    public BenchModel Model { get; set; }

    /// <summary>Builds the model's gradients and takes the refresh step and one steady step.</summary>
    [GlobalSetup]
    public void Setup()
    {
        LoadBackend();
        optimizer = new Shampoo(ModelWorkload.Create(Model).Parameters, ModelWorkload.SteadyStateOptions, Blas);
        var first = optimizer.Step();
        var second = optimizer.Step();
        if (!first.RefreshedRoots || second.RefreshedRoots || !second.Applied)
        {
            throw new InvalidOperationException($"Unexpected step schedule: {first}, {second}.");
        }

        // The exact check behind the Allocated column: BenchmarkDotNet counts every thread's allocations, so a tiered-JIT
        // recompilation in the background can show a few bytes per operation; the calling thread's count cannot.
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++)
        {
            optimizer.Step();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Console.WriteLine($"// Steady-state steps allocated {allocated} B on the calling thread over 5 steps.");
        if (allocated != 0)
        {
            throw new InvalidOperationException($"A steady-state step allocated {allocated / 5} B.");
        }
    }

    /// <summary>One optimizer step.</summary>
    [Benchmark, Flops(nameof(StepFlops), FlopPrecision.Single)]
    public StepResult Step() => optimizer.Step();

    internal static double StepFlops(ParameterInstances p) => ModelWorkload.SteadyStepFlops((BenchModel)p[nameof(Model)]);

    /// <summary>Frees the optimizer.</summary>
    [GlobalCleanup]
    public void Cleanup() => optimizer.Dispose();
}
