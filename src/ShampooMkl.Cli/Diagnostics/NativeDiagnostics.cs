using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using ShampooMkl.Linalg;
using ShampooMkl.Memory;

namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Inspects the machine and every BLAS backend: loading, symbols, correctness, speed.</summary>
/// <remarks>Measurement only; rendering lives in the command so the report can be tested and serialised.</remarks>
public static class NativeDiagnostics
{
    /// <summary>Tolerance of the p = 2 inverse-root check ‖X²A − I‖_max on a well-conditioned SPD matrix.</summary>
    public const double InverseRootTolerance = 1e-8;

    /// <summary>The routine name of the eigendecomposition timing.</summary>
    public const string EigenRoutine = "dsyevd";

    /// <summary>Nominal flops of one n×n <c>dsyevd</c> with eigenvectors, per n³ (the figure
    /// <see cref="SymmetricEigen{T}"/> limits threads by); its GFLOP/s are only comparable with each other.</summary>
    public const double EigenFlopsPerCube = 9;

    /// <summary>Below this speed-up the dsyevd verdict calls the backends about as fast: best-of-5 times of one call
    /// vary by a few percent between runs.</summary>
    public const double EigenTieRatio = 1.05;

    /// <summary>Tolerance of BLAS/LAPACK results relative to the size of what was summed.</summary>
    public const double RelativeTolerance = 1e-12;

    private const int SmokeOrder = 64;
    private const int Seed = 20240611;

    /// <summary>Runs the full diagnosis.</summary>
    public static DoctorReport Run(DoctorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.GemmSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Repetitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.EigenSize, 1);

        var machine = DescribeMachine();
        var backends = new List<BackendReport>();
        foreach (var kind in Enum.GetValues<BlasBackendKind>())
        {
            backends.Add(DiagnoseBackend(kind, options));
        }

        var comparisons = new List<SpeedComparison> { Compare("dgemm", backends), Compare("sgemm", backends), Compare(EigenRoutine, backends) };
        var defaultBackend = DescribeDefault(options);

        var failures = new List<string>();
        if (!backends.Any(b => b.Loaded))
        {
            failures.Add("No BLAS backend could be loaded. " + NativeLoadException.InstallHint);
        }

        if (defaultBackend.Error is not null && backends.Any(b => b.Loaded))
        {
            // Every other command resolves the default backend first, so this breaks them all.
            failures.Add($"The default backend cannot be resolved ({defaultBackend.Reason}): {defaultBackend.Error}");
        }

        foreach (var backend in backends.Where(b => b.Loaded))
        {
            failures.AddRange(backend.Symbols.Where(s => !s.Found).Select(s => $"{backend.Name}: symbol '{s.Name}' is missing."));
            failures.AddRange(backend.SmokeTests.Where(s => !s.Passed).Select(s =>
                $"{backend.Name}: smoke test '{s.Name}' failed (error {Format(s.Error)} > {Format(s.Tolerance)}){(s.Detail is null ? "" : ": " + s.Detail)}."));
        }

        return new DoctorReport(machine, backends, comparisons, defaultBackend, failures.Count == 0, failures);
    }

    /// <summary>Writes the report as indented JSON.</summary>
    public static void WriteJson(DoctorReport report, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, report, DoctorJsonContext.Default.DoctorReport);
    }

    /// <summary>The report as indented JSON text.</summary>
    public static string ToJson(DoctorReport report) => JsonSerializer.Serialize(report, DoctorJsonContext.Default.DoctorReport);

    private static MachineInfo DescribeMachine() => new(
        RuntimeInformation.OSDescription,
        RuntimeInformation.RuntimeIdentifier,
        CpuModel(),
        Environment.ProcessorCount,
        $"{RuntimeInformation.FrameworkDescription} ({RuntimeInformation.ProcessArchitecture})",
        Environment.GetEnvironmentVariable(BlasBackend.MklThreadingVariable) ?? "(unset: intel)");

    private static string CpuModel()
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is var colon and >= 0)
                    {
                        return line[(colon + 1)..].Trim();
                    }
                }
            }
            catch (IOException)
            {
                // Sandboxes may hide /proc; the core count below still says something useful.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return $"unknown ({Environment.ProcessorCount} logical processors)";
    }

    private static BackendReport DiagnoseBackend(BlasBackendKind kind, DoctorOptions options)
    {
        var name = kind == BlasBackendKind.Mkl ? "MKL" : "OpenBLAS";
        IReadOnlyList<string> attempts;
        BlasBackend? lib;
        try
        {
            BlasBackend.TryLoad(kind, out lib, out attempts);
        }
        catch (ArgumentException e)
        {
            // A malformed SHAMPOO_MKL_THREADING surfaces here; report it rather than abort the whole diagnosis.
            return new BackendReport(name, false, [e.Message], null, null, null, null, [], [], []);
        }

        if (lib is null)
        {
            return new BackendReport(name, false, attempts, null, null, null, null, [], [], []);
        }

        var symbols = BlasBackend.RequiredSymbols.Concat(BlasBackend.ServiceSymbols(kind))
            .Select(s => new SymbolCheck(s, lib.HasSymbol(s)))
            .ToList();
        var smoke = new List<SmokeCheck>
        {
            Smoke("inverse root p=2: max|X²A − I|", InverseRootTolerance, () => InverseRootResidual(lib)),
            Smoke("dgemm 37×53·53×29 vs managed", RelativeTolerance, () => GemmError(lib)),
            Smoke("dsyrk 41×23 vs managed", RelativeTolerance, () => SyrkError(lib)),
            Smoke("dsyevd 64×64 residual", RelativeTolerance, () => EigenResidual(lib)),
        };
        var benchmarks = new List<KernelBenchmark>
        {
            BenchmarkGemm<double>("dgemm", lib, options.GemmSize, options.Repetitions),
            BenchmarkGemm<float>("sgemm", lib, options.GemmSize, options.Repetitions),
            BenchmarkEigen(lib, options.EigenSize, options.Repetitions),
        };

        return new BackendReport(name, true, attempts, ResolvedPath(lib), lib.Version,
            lib.ThreadingLayer?.ToString().ToLowerInvariant(), lib.MaxThreads, symbols, smoke, benchmarks);
    }

    /// <summary>The file the loader actually mapped for a bare name like <c>libmkl_rt.so</c> (through symlinks and
    /// alternatives), so a user can see which installed copy is in use; found as the mapping that contains the
    /// address of <c>cblas_dgemm</c>. Falls back to the name when /proc is unavailable.</summary>
    private static string ResolvedPath(BlasBackend lib)
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryGetExport(lib.Handle, "cblas_dgemm", out var symbol))
        {
            return lib.LibraryPath;
        }

        try
        {
            var address = (ulong)symbol;
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                // "start-end perms offset dev inode path"
                var dash = line.IndexOf('-');
                var space = line.IndexOf(' ');
                var slash = line.IndexOf('/');
                if (dash <= 0 || space <= dash || slash < 0 ||
                    !ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var from) ||
                    !ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var to))
                {
                    continue;
                }

                if (address >= from && address < to)
                {
                    var path = line[slash..].Trim();
                    return path == lib.LibraryPath ? path : $"{path} (as {lib.LibraryPath})";
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return lib.LibraryPath;
    }

    private static SmokeCheck Smoke(string name, double tolerance, Func<double> measure)
    {
        try
        {
            var error = measure();
            // Written so that NaN fails.
            return new SmokeCheck(name, error, tolerance, error <= tolerance, null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new SmokeCheck(name, double.NaN, tolerance, false, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static DefaultBackendInfo DescribeDefault(DoctorOptions options)
    {
        var variable = Environment.GetEnvironmentVariable(BlasBackend.BackendVariable);
        var reason = options.BlasOverride is { } forced
            ? $"--blas {forced.ToString().ToLowerInvariant()}"
            : string.IsNullOrWhiteSpace(variable)
                ? $"{BlasBackend.BackendVariable} unset: MKL first, then OpenBLAS"
                : $"{BlasBackend.BackendVariable}={variable}";
        try
        {
            var lib = BlasBackend.Default;
            return new DefaultBackendInfo(lib.Kind == BlasBackendKind.Mkl ? "MKL" : "OpenBLAS", reason, null);
        }
        catch (Exception e) when (e is NativeLoadException or ArgumentException)
        {
            return new DefaultBackendInfo(null, reason, NativeDiagnosticsText.WithoutParameterName(e));
        }
    }

    private static SpeedComparison Compare(string routine, IReadOnlyList<BackendReport> backends)
    {
        var results = backends
            .SelectMany(b => b.Benchmarks.Where(g => g.Routine == routine).Select(g => (b.Name, g.Gflops)))
            .OrderByDescending(r => r.Gflops)
            .ToList();
        if (results.Count == 0)
        {
            return new SpeedComparison(routine, null, null, null, $"{routine}: no backend measured.");
        }

        var best = results[0];
        if (results.Count == 1)
        {
            return new SpeedComparison(routine, best.Name, best.Gflops, null,
                $"{routine}: only {best.Name} was measured ({Gflops(best.Gflops)}).");
        }

        var runnerUp = results[1];
        var speedup = best.Gflops / runnerUp.Gflops;
        string text;
        if (routine != EigenRoutine)
        {
            text = $"{routine}: {best.Name} is faster here, {speedup.ToString("0.00", CultureInfo.InvariantCulture)}× " +
                $"({Gflops(best.Gflops)} vs {runnerUp.Name} {Gflops(runnerUp.Gflops)}).";
        }
        else
        {
            var times = $"{Milliseconds(SecondsOf(best.Name))} vs {runnerUp.Name} {Milliseconds(SecondsOf(runnerUp.Name))} " +
                $"at n={backends.First(b => b.Name == best.Name).Benchmarks.First(g => g.Routine == routine).Size}";
            text = speedup < EigenTieRatio
                ? $"{routine}: {best.Name} and {runnerUp.Name} are about as fast here, {speedup.ToString("0.00", CultureInfo.InvariantCulture)}× " +
                  $"({best.Name} {times}): either suits refresh-heavy runs (frequent root refreshes, large blocks)."
                : $"{routine}: {best.Name} is faster here, {speedup.ToString("0.00", CultureInfo.InvariantCulture)}× " +
                  $"({times}): prefer {best.Name} for refresh-heavy runs (frequent root refreshes, large blocks).";
        }

        double SecondsOf(string name) => backends.First(b => b.Name == name).Benchmarks.First(g => g.Routine == routine).BestSeconds;
        return new SpeedComparison(routine, best.Name, best.Gflops, speedup, text);
    }

    private static string Milliseconds(double seconds) => (seconds * 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    private static string Gflops(double value) => value.ToString("0.0", CultureInfo.InvariantCulture) + " GFLOP/s";

    private static string Format(double value) => value.ToString("0.###E+0", CultureInfo.InvariantCulture);

    // A well-conditioned SPD matrix (eigenvalues in about [1, 5]): the p = 2 root is then accurate to ~1e-14,
    // far inside the 1e-8 bar, so a failure means a broken binding rather than an unlucky matrix.
    private static double[] RandomSpd(int n, Random random)
    {
        var m = RandomMatrix(n * n, random);
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var k = 0; k < n; k++)
                {
                    sum += m[(i * n) + k] * m[(j * n) + k];
                }

                a[(i * n) + j] = (sum / n) + (i == j ? 1.0 : 0.0);
            }
        }

        return a;
    }

    private static double[] RandomMatrix(int count, Random random)
    {
        var values = new double[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = (2 * random.NextDouble()) - 1;
        }

        return values;
    }

    private static double InverseRootResidual(BlasBackend lib)
    {
        const int n = SmokeOrder;
        var a = RandomSpd(n, new Random(Seed));
        var x = new double[n * n];
        using var pool = new BufferPool();
        using (var root = new InverseRoot(n, lib, pool))
        {
            var status = root.Compute<double>(new ReadOnlyMatrixView<double>(a, n, n), 2.0, 0.0, new MatrixView<double>(x, n, n));
            if (status != InverseRootStatus.Success)
            {
                throw new InvalidOperationException($"InverseRoot returned {status}.");
            }
        }

        // Checked with managed loops so the check does not trust the BLAS under test.
        var xx = ManagedProduct(x, n, n, x, n);
        var xxa = ManagedProduct(xx, n, n, a, n);
        var worst = 0.0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                worst = Math.Max(worst, Math.Abs(xxa[(i * n) + j] - (i == j ? 1.0 : 0.0)));
            }
        }

        return worst;
    }

    private static double GemmError(BlasBackend lib)
    {
        const int m = 37, k = 53, n = 29;
        var random = new Random(Seed + 1);
        var a = RandomMatrix(m * k, random);
        var b = RandomMatrix(k * n, random);
        var c = new double[m * n];
        MatrixProduct.Multiply<double>(new ReadOnlyMatrixView<double>(a, m, k), false, new ReadOnlyMatrixView<double>(b, k, n), false,
            new MatrixView<double>(c, m, n), 1.0, 0.0, lib);
        return RelativeError(c, ManagedProduct(a, m, k, b, n), ManagedAbsProduct(a, m, k, b, n));
    }

    private static double SyrkError(BlasBackend lib)
    {
        const int n = 41, k = 23;
        var random = new Random(Seed + 2);
        var a = RandomMatrix(n * k, random);
        var c = new double[n * n];
        SymmetricRankUpdate.Update<double>(new ReadOnlyMatrixView<double>(a, n, k), false, new MatrixView<double>(c, n, n), 1.0, 0.0, true, lib);
        var at = Transpose(a, n, k);
        return RelativeError(c, ManagedProduct(a, n, k, at, n), ManagedAbsProduct(a, n, k, at, n));
    }

    private static double EigenResidual(BlasBackend lib)
    {
        const int n = SmokeOrder;
        var a = RandomSpd(n, new Random(Seed + 3));
        var vectors = (double[])a.Clone();
        var values = new double[n];
        using var pool = new BufferPool();
        using (var eigen = new SymmetricEigen<double>(n, lib, pool))
        {
            var info = eigen.Decompose(new MatrixView<double>(vectors, n, n), values);
            if (info != 0)
            {
                throw new InvalidOperationException($"syevd returned info={info}.");
            }
        }

        // Relative to ‖A‖_max: max over k of |A·v_k − λ_k·v_k|, and the loss of orthonormality of the rows.
        var scale = a.Max(Math.Abs);
        var worst = 0.0;
        for (var k = 0; k < n; k++)
        {
            for (var i = 0; i < n; i++)
            {
                double av = 0;
                for (var j = 0; j < n; j++)
                {
                    av += a[(i * n) + j] * vectors[(k * n) + j];
                }

                worst = Math.Max(worst, Math.Abs(av - (values[k] * vectors[(k * n) + i])) / scale);
            }

            for (var l = 0; l < n; l++)
            {
                double dot = 0;
                for (var j = 0; j < n; j++)
                {
                    dot += vectors[(k * n) + j] * vectors[(l * n) + j];
                }

                worst = Math.Max(worst, Math.Abs(dot - (k == l ? 1.0 : 0.0)));
            }
        }

        return worst;
    }

    private static double RelativeError(double[] actual, double[] expected, double[] magnitude)
    {
        var worst = 0.0;
        for (var i = 0; i < actual.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / Math.Max(magnitude[i], double.Epsilon));
        }

        return worst;
    }

    private static double[] ManagedProduct(double[] a, int m, int k, double[] b, int n) => Product(a, m, k, b, n, abs: false);

    private static double[] ManagedAbsProduct(double[] a, int m, int k, double[] b, int n) => Product(a, m, k, b, n, abs: true);

    private static double[] Product(double[] a, int m, int k, double[] b, int n, bool abs)
    {
        var c = new double[m * n];
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var p = 0; p < k; p++)
                {
                    var term = a[(i * k) + p] * b[(p * n) + j];
                    sum += abs ? Math.Abs(term) : term;
                }

                c[(i * n) + j] = sum;
            }
        }

        return c;
    }

    private static double[] Transpose(double[] a, int rows, int cols)
    {
        var t = new double[a.Length];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                t[(j * rows) + i] = a[(i * cols) + j];
            }
        }

        return t;
    }

    private static KernelBenchmark BenchmarkGemm<T>(string routine, BlasBackend lib, int n, int repetitions)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var a = new AlignedArray<T>(n * n);
        using var b = new AlignedArray<T>(n * n);
        using var c = new AlignedArray<T>(n * n);
        var random = new Random(Seed + 4);
        foreach (var span in new[] { a, b })
        {
            var s = span.Span;
            for (var i = 0; i < s.Length; i++)
            {
                s[i] = T.CreateTruncating(random.NextDouble() - 0.5);
            }
        }

        void Once() => MatrixProduct.Multiply(
            new ReadOnlyMatrixView<T>(a.Span, n, n), false, new ReadOnlyMatrixView<T>(b.Span, n, n), false,
            new MatrixView<T>(c.Span, n, n), T.One, T.Zero, lib);

        // The first call pays for thread-pool start-up and kernel dispatch; it is not what a training step sees.
        Once();
        var best = double.PositiveInfinity;
        for (var r = 0; r < repetitions; r++)
        {
            var start = Stopwatch.GetTimestamp();
            Once();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        var flops = 2.0 * n * n * (double)n;
        return new KernelBenchmark(routine, n, repetitions, best, flops / Math.Max(best, 1e-12) / 1e9);
    }

    /// <summary>Best-of-N time of one n×n <c>dsyevd</c> with eigenvectors on every BLAS thread, what a root refresh
    /// spends most of its time in, on a random symmetric matrix (no clustered eigenvalues for divide and conquer to
    /// deflate, so the time is the general case). The copy of the input before each call is not timed.</summary>
    private static KernelBenchmark BenchmarkEigen(BlasBackend lib, int n, int repetitions)
    {
        using var a = new AlignedArray<double>(n * n);
        using var work = new AlignedArray<double>(n * n);
        using var values = new AlignedArray<double>(n);
        var random = new Random(Seed + 5);
        var s = a.Span;
        for (var i = 0; i < n; i++)
        {
            for (var j = i; j < n; j++)
            {
                s[(i * n) + j] = s[(j * n) + i] = (2 * random.NextDouble()) - 1;
            }
        }

        using var pool = new BufferPool();
        using var eigen = new SymmetricEigen<double>(n, lib, pool);
        double Once()
        {
            a.Span.CopyTo(work.Span);
            var start = Stopwatch.GetTimestamp();
            // A failing dsyevd is the smoke test's business (it fails the report); the timing never aborts the diagnosis.
            _ = eigen.Decompose(new MatrixView<double>(work.Span, n, n), values.Span);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        Once();
        var best = double.PositiveInfinity;
        for (var r = 0; r < repetitions; r++)
        {
            best = Math.Min(best, Once());
        }

        var flops = EigenFlopsPerCube * n * n * (double)n;
        return new KernelBenchmark(EigenRoutine, n, repetitions, best, flops / Math.Max(best, 1e-12) / 1e9);
    }
}
