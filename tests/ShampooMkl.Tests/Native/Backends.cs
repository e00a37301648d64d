using ShampooMkl.Linalg;
using ShampooMkl.Native;

namespace ShampooMkl.Tests.Native;

/// <summary>Theory data over every BLAS backend that loads on this machine, so each test runs once per backend.</summary>
/// <remarks>Data rows are the enum (serialisable, so each backend shows as its own test case); the library
/// object is looked up per test. An empty row set makes xunit fail the theory, and
/// <see cref="BlasLibraryTests.AtLeastOneBackendLoads"/> fails with the load trace, so a machine without
/// BLAS cannot pass by running nothing.</remarks>
public static class Backends
{
    private static readonly Lazy<IReadOnlyList<BlasBackendKind>> LoadedKinds = new(() =>
        Enum.GetValues<BlasBackendKind>().Where(k => BlasBackend.TryLoad(k, out _, out _)).ToList());

    /// <summary>Each loadable backend as one theory row.</summary>
    public static TheoryData<BlasBackendKind> BackendData
    {
        get
        {
            var data = new TheoryData<BlasBackendKind>();
            foreach (var kind in LoadedKinds.Value)
            {
                data.Add(kind);
            }

            return data;
        }
    }

    /// <summary>Every loadable backend.</summary>
    public static IReadOnlyList<BlasBackendKind> Loaded => LoadedKinds.Value;

    /// <summary>The loaded backend of a kind taken from <see cref="BackendData"/>, as the public API takes it.</summary>
    public static BlasBackend Get(BlasBackendKind kind) =>
        BlasBackend.TryLoad(kind, out var lib, out var attempts)
            ? lib!
            : throw new InvalidOperationException($"{kind} was listed as loadable but did not load:{Environment.NewLine}{string.Join(Environment.NewLine, attempts)}");

    /// <summary>The native library underneath <see cref="Get"/>, for tests of the native layer itself.</summary>
    internal static BlasLibrary GetLibrary(BlasBackendKind kind) => Get(kind).Library;
}
