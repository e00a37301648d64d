using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;
using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Benchmarks.PerfCompare;

/// <summary>One timed operation of the short regression suite: a name, a set-up returning the operation, and its sample counts.</summary>
internal sealed record PerfCase(string Name, Func<BlasBackend, (Action Run, IDisposable Owner)> Setup, int Warmup, int Repeats)
{
    /// <summary>The reference every case is divided by: square dgemm, n = 1024, on the same backend.</summary>
    public static PerfCase Reference { get; } = new("dgemm-1024 (reference)", lib => Gemm<double>(lib, 1024), 3, 15);

    /// <summary>The suite: the kernels of the issue at their largest block size, the inverse roots at 512, and optimizer
    /// steps, about 30 s per backend on the project's 2-core machine.</summary>
    public static IReadOnlyList<PerfCase> Suite { get; } =
    [
        new("syrk-f32-1024", lib => Syrk(lib, 1024), 3, 15),
        new("accumulate-f32-1024", lib => Accumulate(lib, 1024), 3, 15),
        new("precondition-f32-1024", lib => Precondition(lib, 1024), 3, 15),
        new("invroot-syevd-f64-512", lib => Root(lib, 512, RootKind.Full), 2, 9),
        new("invroot-warm-f64-512", lib => Root(lib, 512, RootKind.Warm), 2, 9),
        new("invroot-newton-f64-512", lib => Root(lib, 512, RootKind.Newton), 2, 9),
        new("step-mlp", lib => Step(lib, BenchModel.Mlp, refresh: false), 5, 31),
        new("refresh-step-mlp", lib => Step(lib, BenchModel.Mlp, refresh: true), 2, 9),
        new("step-blocked8x1024", lib => Step(lib, BenchModel.Blocked8x1024, refresh: false), 2, 9),
        new("refresh-step-blocked8x1024", lib => Step(lib, BenchModel.Blocked8x1024, refresh: true), 1, 3),
    ];

    private enum RootKind
    {
        Full,
        Warm,
        Newton,
    }

    private static (Action, IDisposable) Gemm<T>(BlasBackend lib, int n) where T : unmanaged
    {
        var a = new AlignedArray<T>(n * n);
        var b = new AlignedArray<T>(n * n);
        var c = new AlignedArray<T>(n * n);
        Fill(a.Span, 1);
        Fill(b.Span, 2);
        var one = (T)Convert.ChangeType(1, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
        var zero = default(T);
        return (() => MatrixProduct.Multiply<T>(new MatrixView<T>(a.Span, n, n), false, new MatrixView<T>(b.Span, n, n), false,
            new MatrixView<T>(c.Span, n, n), one, zero, lib), new Owners(a, b, c));
    }

    private static (Action, IDisposable) Syrk(BlasBackend lib, int n)
    {
        var g = new AlignedArray<float>(n * n);
        var c = new AlignedArray<float>(n * n);
        Fill(g.Span, 3);
        return (() => SymmetricRankUpdate.Update<float>(new MatrixView<float>(g.Span, n, n), false, new MatrixView<float>(c.Span, n, n),
            1f, 1f, mirrorLower: false, lib), new Owners(g, c));
    }

    private static (Action, IDisposable) Accumulate(BlasBackend lib, int n)
    {
        var g = new AlignedArray<float>(n * n);
        Fill(g.Span, 3);
        var factors = new KroneckerFactors<float>(n, n, 1.0, lib);
        return (() => factors.Accumulate(new MatrixView<float>(g.Span, n, n)), new Owners(g, factors));
    }

    private static (Action, IDisposable) Precondition(BlasBackend lib, int n)
    {
        var g = Workloads.GaussianSingle(4, n * n);
        var d = new float[n * n];
        var p = new ShampooPreconditioner<float>(n, n, ShampooPreconditionerOptions.Shampoo, lib);
        p.Update(g);
        p.RefreshRoots();
        return (() => p.Precondition(g, d), p);
    }

    private static (Action, IDisposable) Root(BlasBackend lib, int n, RootKind kind)
    {
        var previous = Workloads.Statistic(21, n, lib);
        var current = Workloads.Perturbed(previous, 22, n, lib);
        var result = new AlignedArray<double>(n * n);
        var root = new InverseRoot(n, lib);
        var newton = new CoupledNewtonInverseRoot(n, blas: lib);
        MatrixView<double> Output() => new(result.Span, n, n);
        root.Compute<double>(new ReadOnlyMatrixView<double>(previous, n, n), 4, 1e-12, Output(), InverseRootMethod.EigenbasisWarmStart);
        Action run = kind switch
        {
            RootKind.Full => () => root.Compute<double>(new ReadOnlyMatrixView<double>(current, n, n), 4, 1e-12, Output(), InverseRootMethod.Eigendecomposition),
            RootKind.Warm => () => root.Compute<double>(new ReadOnlyMatrixView<double>(current, n, n), 4, 1e-12, Output(), InverseRootMethod.EigenbasisWarmStart),
            _ => () =>
            {
                if (!newton.Compute<double>(new ReadOnlyMatrixView<double>(current, n, n), 4, 1e-12, Output()).Succeeded)
                {
                    throw new InvalidOperationException("Coupled Newton did not converge on the benchmark statistic.");
                }
            },
        };
        return (run, new Owners(result, root));
    }

    private static (Action, IDisposable) Step(BlasBackend lib, BenchModel model, bool refresh)
    {
        var options = refresh ? ModelWorkload.RefreshEveryStepOptions : ModelWorkload.SteadyStateOptions;
        var optimizer = new Shampoo(ModelWorkload.Create(model).Parameters, options, lib);
        optimizer.Step();
        return (() => optimizer.Step(), optimizer);
    }

    private static void Fill<T>(Span<T> span, int seed) where T : unmanaged
    {
        var values = Workloads.Gaussian(seed, span.Length);
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = (T)Convert.ChangeType(values[i], typeof(T), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private sealed class Owners(params IDisposable[] owned) : IDisposable
    {
        public void Dispose()
        {
            foreach (var o in owned)
            {
                o.Dispose();
            }
        }
    }
}
