using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Linalg;
using ShampooMkl.Optim;

namespace ShampooMkl.Benchmarks.Suites;

/// <summary>A <see cref="Shampoo.Step"/> that refreshes every block's roots (PreconditionFrequency = 1), by full syevd or warm start.</summary>
/// <remarks>The optimizer's own schedule decides the work: with the warm start only the first refresh (in setup) is a full
/// decomposition. Rates are against the dgemm peak since the fp64 roots dominate; allocations here are expected (the
/// parallel loop over blocks), which is why refresh steps are kept out of the zero-allocation steady-state suite.</remarks>
public class RefreshStepBenchmarks : BackendBenchmark
{
    private Shampoo optimizer = null!;

    /// <summary>The model.</summary>
    [Params(BenchModel.Mlp, BenchModel.Blocked8x1024)]
    public BenchModel Model { get; set; }

    /// <summary>How the roots are recomputed.</summary>
    [Params(InverseRootMethod.Eigendecomposition, InverseRootMethod.EigenbasisWarmStart)]
    public InverseRootMethod Method { get; set; }

    /// <summary>Builds the model and takes two refresh steps (the first is always a full decomposition).</summary>
    [GlobalSetup]
    public void Setup()
    {
        LoadBackend();
        optimizer = new Shampoo(ModelWorkload.Create(Model).Parameters, ModelWorkload.RefreshEveryStepOptions with { RootMethod = Method }, Blas);
        for (var i = 0; i < 2; i++)
        {
            var step = optimizer.Step();
            if (!step.RefreshedRoots || step.Message is not null)
            {
                throw new InvalidOperationException($"Unexpected refresh step: {step}.");
            }
        }
    }

    /// <summary>One optimizer step including the refresh of every block.</summary>
    [Benchmark, Flops(nameof(StepFlops), FlopPrecision.Double)]
    public StepResult RefreshStep() => optimizer.Step();

    internal static double StepFlops(ParameterInstances p)
    {
        var model = (BenchModel)p[nameof(Model)];
        var warm = (InverseRootMethod)p[nameof(Method)] == InverseRootMethod.EigenbasisWarmStart;
        return ModelWorkload.SteadyStepFlops(model) + ModelWorkload.RefreshFlops(model, warm);
    }

    /// <summary>Frees the optimizer.</summary>
    [GlobalCleanup]
    public void Cleanup() => optimizer.Dispose();
}
