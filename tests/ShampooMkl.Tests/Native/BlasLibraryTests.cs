using ShampooMkl.Native;

namespace ShampooMkl.Tests.Native;

/// <summary>Backend loading, self-description, and the parsing and error messages users see when loading fails.</summary>
public class BlasLibraryTests
{
    [Fact]
    public void AtLeastOneBackendLoads()
    {
        var trace = new List<string>();
        foreach (var kind in Enum.GetValues<BlasBackendKind>())
        {
            if (BlasLibrary.TryLoad(kind, out _, out var attempts))
            {
                return;
            }

            trace.AddRange(attempts);
        }

        Assert.Fail("No BLAS backend loads, so every backend theory would run on nothing." + Environment.NewLine +
                    string.Join(Environment.NewLine, trace) + Environment.NewLine + NativeLoadException.InstallHint);
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void LoadedBackend_DescribesItselfAndExportsEverySymbol(BlasBackendKind kind)
    {
        var lib = Backends.GetLibrary(kind);

        Assert.Equal(kind, lib.Kind);
        Assert.False(string.IsNullOrWhiteSpace(lib.Version));
        Assert.False(string.IsNullOrWhiteSpace(lib.LibraryPath));
        Assert.NotEqual(0, lib.Handle);
        Assert.InRange(lib.ThreadsAtLoad, 1, 4096);
        Assert.Equal(kind == BlasBackendKind.Mkl, lib.ThreadingLayer is not null);
        foreach (var symbol in BlasLibrary.RequiredSymbols.Concat(BlasLibrary.ServiceSymbols(kind)))
        {
            Assert.True(lib.HasSymbol(symbol), $"{kind} lacks {symbol}");
        }

        Assert.False(lib.HasSymbol("shampoo_no_such_symbol"));
        Assert.Contains(kind.ToString(), lib.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Load_ReturnsTheSameInstanceEveryTime(BlasBackendKind kind)
    {
        // MKL's threading layer is fixed at first load, so a second load must not configure a second copy.
        Assert.Same(BlasLibrary.Load(kind), BlasLibrary.Load(kind));
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void SetThreads_ThrowsForLessThanOne(BlasBackendKind kind)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Backends.Get(kind).SetThreads(0));
    }

    [Theory]
    [InlineData("mkl", BlasBackendKind.Mkl)]
    [InlineData(" MKL ", BlasBackendKind.Mkl)]
    [InlineData("openblas", BlasBackendKind.OpenBlas)]
    [InlineData("OpenBLAS", BlasBackendKind.OpenBlas)]
    public void ParseKind_AcceptsBackendNamesInAnyCase(string text, BlasBackendKind expected)
    {
        Assert.Equal(expected, BlasLibrary.ParseKind(text));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("")]
    [InlineData("mkl,openblas")]
    [InlineData("blas")]
    public void ParseKind_ThrowsForGarbageWithAClearMessage(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => BlasLibrary.ParseKind(text));

        Assert.Contains($"'{text}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'mkl'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'openblas'", e.Message, StringComparison.Ordinal);
        Assert.Contains("SHAMPOO_BLAS", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, MklThreadingLayer.Intel)]
    [InlineData("", MklThreadingLayer.Intel)]
    [InlineData("GNU", MklThreadingLayer.Gnu)]
    [InlineData("seq", MklThreadingLayer.Sequential)]
    [InlineData(" sequential ", MklThreadingLayer.Sequential)]
    public void ParseThreading_AcceptsKnownLayers(string? text, MklThreadingLayer expected)
    {
        Assert.Equal(expected, BlasLibrary.ParseThreading(text));
    }

    [Fact]
    public void ParseThreading_ThrowsForGarbageWithAClearMessage()
    {
        var e = Assert.Throws<ArgumentException>(() => BlasLibrary.ParseThreading("tbb"));

        Assert.Contains("'tbb'", e.Message, StringComparison.Ordinal);
        Assert.Contains("SHAMPOO_MKL_THREADING", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NativeLoadException_MessageListsEveryAttemptAndTheInstallHint()
    {
        string[] attempts = ["Mkl: libmkl_rt.so: not found or not loadable", "OpenBlas: libopenblas.so.0: required symbol 'dsyevd_' is missing"];

        var e = new NativeLoadException("No BLAS/LAPACK backend could be loaded.", attempts);

        Assert.StartsWith("No BLAS/LAPACK backend could be loaded.", e.Message, StringComparison.Ordinal);
        foreach (var attempt in attempts)
        {
            Assert.Contains("  - " + attempt, e.Message, StringComparison.Ordinal);
        }

        Assert.Contains(NativeLoadException.InstallHint, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("provision.sh", e.Message, StringComparison.Ordinal);
        Assert.EndsWith(NativeLoadException.InstallHint, e.Message, StringComparison.Ordinal);
        Assert.Equal(attempts, e.Attempts);
    }
}
