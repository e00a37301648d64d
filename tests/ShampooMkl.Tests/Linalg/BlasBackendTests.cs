using ShampooMkl.Linalg;
using ShampooMkl.Native;
using ShampooMkl.Tests.Native;

namespace ShampooMkl.Tests.Linalg;

/// <summary>The public backend handle: one instance per loaded library, describing exactly what the native layer loaded.</summary>
public class BlasBackendTests
{
    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Load_ReturnsOneInstancePerKind_WrappingTheLoadedLibrary(BlasBackendKind kind)
    {
        var backend = BlasBackend.Load(kind);

        Assert.Same(backend, BlasBackend.Load(kind));
        Assert.True(BlasBackend.TryLoad(kind, out var again, out _));
        Assert.Same(backend, again);
        Assert.Same(BlasLibrary.Load(kind), backend.Library);
    }

    [Theory]
    [MemberData(nameof(Backends.BackendData), MemberType = typeof(Backends))]
    public void Properties_MirrorTheNativeLibrary(BlasBackendKind kind)
    {
        var backend = BlasBackend.Load(kind);
        var library = BlasLibrary.Load(kind);

        Assert.Equal(kind, backend.Kind);
        Assert.Equal(library.LibraryPath, backend.LibraryPath);
        Assert.Equal(library.Handle, backend.Handle);
        Assert.Equal(library.Version, backend.Version);
        Assert.Equal(library.ThreadingLayer, backend.ThreadingLayer);
        Assert.InRange(backend.MaxThreads, 1, 4096);
        Assert.Equal(library.ToString(), backend.ToString());
        Assert.All(BlasBackend.RequiredSymbols.Concat(BlasBackend.ServiceSymbols(kind)), s => Assert.True(backend.HasSymbol(s), s));
        Assert.False(backend.HasSymbol("shampoo_no_such_symbol"));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.SetThreads(0));
    }

    [Fact]
    public void Default_IsTheWrapperOfTheNativeDefault()
    {
        var backend = BlasBackend.Default;

        Assert.Same(BlasBackend.For(backend.Library), backend);
        Assert.Same(backend, BlasBackend.Load(backend.Kind));
    }

    [Theory]
    [InlineData("mkl", BlasBackendKind.Mkl)]
    [InlineData(" OpenBLAS ", BlasBackendKind.OpenBlas)]
    public void ParseKind_AcceptsBackendNamesInAnyCase(string text, BlasBackendKind expected) =>
        Assert.Equal(expected, BlasBackend.ParseKind(text));
}
