using System.CommandLine;
using System.Text.Json;
using ShampooMkl.Cli.Commands;
using ShampooMkl.Cli.Diagnostics;
using ShampooMkl.Linalg;
using ShampooMkl.Tests.Native;
using Spectre.Console;

namespace ShampooMkl.Tests.Cli;

/// <summary>Runs the doctor once (quick mode: 64×64 GEMMs, one repetition) and checks the report, the JSON and the rendering.</summary>
public sealed class DoctorFixture
{
    public DoctorFixture()
    {
        Report = NativeDiagnostics.Run(Options);
    }

    public static DoctorOptions Options { get; } = new(GemmSize: 64, Repetitions: 1, EigenSize: 48);

    public DoctorReport Report { get; }
}

/// <summary>`shampoo-mkl doctor`: report contents, JSON output, rendering and option parsing.</summary>
public class DoctorTests(DoctorFixture fixture) : IClassFixture<DoctorFixture>
{
    private DoctorReport Report => fixture.Report;

    [Fact]
    public void Report_ListsBothBackends()
    {
        Assert.Equal(["MKL", "OpenBLAS"], Report.Backends.Select(b => b.Name));
    }

    [Fact]
    public void Report_DescribesTheMachine()
    {
        Assert.False(string.IsNullOrWhiteSpace(Report.Machine.OsDescription));
        Assert.False(string.IsNullOrWhiteSpace(Report.Machine.RuntimeIdentifier));
        Assert.False(string.IsNullOrWhiteSpace(Report.Machine.CpuModel));
        Assert.Equal(Environment.ProcessorCount, Report.Machine.LogicalCores);
        Assert.Contains(".NET", Report.Machine.DotNetVersion, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_LoadedBackendsMatchTheTestMachine()
    {
        Assert.Equal(Backends.Loaded.Count, Report.Backends.Count(b => b.Loaded));
        Assert.All(Report.Backends.Where(b => !b.Loaded), b => Assert.NotEmpty(b.Attempts));
    }

    [Fact]
    public void Report_FindsEveryRequiredAndServiceSymbol()
    {
        foreach (var backend in Report.Backends.Where(b => b.Loaded))
        {
            var kind = backend.Name == "MKL" ? BlasBackendKind.Mkl : BlasBackendKind.OpenBlas;
            Assert.Equal(BlasBackend.RequiredSymbols.Concat(BlasBackend.ServiceSymbols(kind)), backend.Symbols.Select(s => s.Name));
            Assert.All(backend.Symbols, s => Assert.True(s.Found, $"{backend.Name}: {s.Name}"));
        }
    }

    [Fact]
    public void Report_SmokeTestsPassOnEveryLoadedBackend()
    {
        foreach (var backend in Report.Backends.Where(b => b.Loaded))
        {
            Assert.Equal(4, backend.SmokeTests.Count);
            Assert.All(backend.SmokeTests, s => Assert.True(s.Passed, $"{backend.Name} {s.Name}: {s.Error} > {s.Tolerance} {s.Detail}"));
        }

        Assert.True(Report.Passed, string.Join(Environment.NewLine, Report.Failures));
        Assert.Empty(Report.Failures);
    }

    [Fact]
    public void Report_DescribesEveryLoadedBackend()
    {
        foreach (var backend in Report.Backends.Where(b => b.Loaded))
        {
            Assert.False(string.IsNullOrWhiteSpace(backend.LibraryPath));
            Assert.False(string.IsNullOrWhiteSpace(backend.Version));
            Assert.True(backend.MaxThreads >= 1);
            Assert.Equal(backend.Name == "MKL", backend.ThreadingLayer is not null);
        }
    }

    [Fact]
    public void Report_MeasuresBothGemmsAtTheRequestedSize()
    {
        foreach (var backend in Report.Backends.Where(b => b.Loaded))
        {
            Assert.Equal(["dgemm", "sgemm", "dsyevd"], backend.Benchmarks.Select(g => g.Routine));
            Assert.Equal([64, 64, 48], backend.Benchmarks.Select(g => g.Size));
            Assert.All(backend.Benchmarks, g => Assert.True(g.Gflops > 0 && double.IsFinite(g.Gflops) && g.BestSeconds > 0));
        }

        Assert.Equal(["dgemm", "sgemm", "dsyevd"], Report.Comparisons.Select(c => c.Routine));
        Assert.All(Report.Comparisons, c => Assert.Contains(c.Fastest!, c.Summary, StringComparison.Ordinal));
        if (Report.Backends.Count(b => b.Loaded) == 2)
        {
            // The eigendecomposition verdict names the faster backend for refreshes, by time (fewer ms = more GFLOP/s).
            var eigen = Report.Comparisons[2];
            var fastest = Report.Backends.Single(b => b.Name == eigen.Fastest).Benchmarks[2];
            var other = Report.Backends.Single(b => b.Loaded && b.Name != eigen.Fastest).Benchmarks[2];
            Assert.True(fastest.BestSeconds <= other.BestSeconds, eigen.Summary);
            Assert.Equal(other.BestSeconds / fastest.BestSeconds, eigen.Speedup!.Value, 1e-9);
            Assert.StartsWith(eigen.Speedup < NativeDiagnostics.EigenTieRatio
                ? $"dsyevd: {eigen.Fastest} and {(eigen.Fastest == "MKL" ? "OpenBLAS" : "MKL")} are about as fast here"
                : $"dsyevd: {eigen.Fastest} is faster here", eigen.Summary, StringComparison.Ordinal);
            Assert.Contains(eigen.Speedup < NativeDiagnostics.EigenTieRatio
                ? "either suits refresh-heavy runs"
                : $"prefer {eigen.Fastest} for refresh-heavy runs", eigen.Summary, StringComparison.Ordinal);
            Assert.Contains("at n=48", eigen.Summary, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Report_NamesTheDefaultBackendAndWhy()
    {
        Assert.NotNull(Report.DefaultBackend.Backend);
        Assert.Null(Report.DefaultBackend.Error);
        Assert.Contains("SHAMPOO_BLAS", Report.DefaultBackend.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_WithBlasOverride_SaysTheFlagChoseTheDefault()
    {
        var report = NativeDiagnostics.Run(DoctorFixture.Options with { BlasOverride = BlasBackendKind.OpenBlas });

        Assert.Equal("--blas openblas", report.DefaultBackend.Reason);
    }

    [Fact]
    public void WriteJson_WritesValidJsonWithBothBackends()
    {
        var path = Path.Combine(Path.GetTempPath(), $"shampoo-doctor-{Environment.ProcessId}.json");
        try
        {
            NativeDiagnostics.WriteJson(Report, path);

            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var root = document.RootElement;
            Assert.Equal("formatVersion", root.EnumerateObject().First().Name);
            Assert.Equal(DoctorReport.CurrentFormatVersion, root.GetProperty("formatVersion").GetInt32());
            var backends = root.GetProperty("backends").EnumerateArray().ToList();
            Assert.Equal(["MKL", "OpenBLAS"], backends.Select(b => b.GetProperty("name").GetString()));
            Assert.Equal(Report.Passed, root.GetProperty("passed").GetBoolean());
            Assert.Equal(Report.Machine.CpuModel, root.GetProperty("machine").GetProperty("cpuModel").GetString());
            foreach (var backend in backends.Where(b => b.GetProperty("loaded").GetBoolean()))
            {
                Assert.Equal(JsonValueKind.String, backend.GetProperty("libraryPath").ValueKind);
                Assert.True(backend.GetProperty("maxThreads").ValueKind is JsonValueKind.Number or JsonValueKind.Null);
                Assert.All(backend.GetProperty("symbols").EnumerateArray(), s => Assert.True(s.GetProperty("found").GetBoolean()));
                Assert.Equal(["dgemm", "sgemm", "dsyevd"], backend.GetProperty("benchmarks").EnumerateArray().Select(b => b.GetProperty("routine").GetString()));
            }

            Assert.Equal(["dgemm", "sgemm", "dsyevd"], root.GetProperty("comparisons").EnumerateArray().Select(c => c.GetProperty("routine").GetString()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Render_InPlainTextMentionsEverySection()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });

        DoctorRenderer.Render(Report, console);

        var text = writer.ToString();
        Assert.DoesNotContain("\u001b[", text, StringComparison.Ordinal);
        foreach (var expected in new[] { "Machine", "MKL", "OpenBLAS", "dgemm", "sgemm", "dsyevd n=48", "Default backend", "Threading layer in force" })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Execute_ReturnsZeroWhenEveryLoadedBackendIsHealthy()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Out = new AnsiConsoleOutput(writer) });

        Assert.Equal(0, DoctorCommand.Execute(DoctorFixture.Options, null, console));
    }

    [Fact]
    public void BlasOption_RejectsGarbageWithAClearMessage()
    {
        var root = new RootCommand { GlobalOptions.Blas, DoctorCommand.Create() };

        var result = root.Parse("doctor --blas garbage");

        var error = Assert.Single(result.Errors);
        Assert.Equal("Unknown BLAS backend 'garbage'; use 'mkl' or 'openblas' (SHAMPOO_BLAS).", error.Message);
    }

    [Theory]
    [InlineData("doctor --blas openblas", BlasBackendKind.OpenBlas)]
    [InlineData("--blas MKL doctor", BlasBackendKind.Mkl)]
    public void BlasOption_IsAcceptedBeforeOrAfterTheCommand(string commandLine, BlasBackendKind expected)
    {
        var root = new RootCommand { GlobalOptions.Blas, DoctorCommand.Create() };

        var result = root.Parse(commandLine);

        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.GetValue(GlobalOptions.Blas));
    }

    [Theory]
    [InlineData("doctor --gemm-size 0")]
    [InlineData("doctor --eigen-size 0")]
    [InlineData("doctor --repetitions 0")]
    public void DoctorOptions_RejectNonPositiveSizes(string commandLine)
    {
        var root = new RootCommand { GlobalOptions.Blas, DoctorCommand.Create() };

        Assert.NotEmpty(root.Parse(commandLine).Errors);
    }
}
