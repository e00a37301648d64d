using System.Diagnostics.CodeAnalysis;
using ShampooMkl.Native;

namespace ShampooMkl.Linalg;

/// <summary>A loaded BLAS/LAPACK provider (MKL or OpenBLAS): the backend handle every public routine takes.</summary>
/// <remarks>
/// <para>The only public handle on a loaded provider (the native layer's loader is internal), so code above Linalg
/// (Analysis, the CLI, a framework adapter) chooses, inspects and tunes a backend through this type alone. There is one
/// instance per kind, as there is one loaded library per kind, so instances can be compared by reference. A null
/// backend argument anywhere means <see cref="Default"/>.</para>
/// <para>Inside the library the wrapper is also what routines hold: it forwards the native entry points and thread
/// controls (internal), so passing it around costs no look-up and no allocation.</para>
/// <para>The kinds (<see cref="BlasBackendKind"/>, <see cref="MklThreadingLayer"/>) and <see cref="NativeLoadException"/>
/// are in the root namespace, shared by Native and every layer above; see <see cref="BlasBackendKind"/>.</para>
/// </remarks>
public sealed unsafe class BlasBackend
{
    /// <summary>Environment variable that forces a backend: <c>mkl</c> or <c>openblas</c>.</summary>
    public const string BackendVariable = NativeLibraryCandidates.BackendVariable;

    /// <summary>Environment variable naming an exact library file to try first.</summary>
    public const string PathVariable = NativeLibraryCandidates.PathVariable;

    /// <summary>Environment variable choosing MKL's threading layer: sequential, gnu or intel.</summary>
    public const string MklThreadingVariable = NativeLibraryCandidates.MklThreadingVariable;

    /// <summary>Below this many flops a BLAS call runs on one thread: waking a second thread costs more than it saves.</summary>
    public const long SingleThreadFlops = BlasThreadPolicy.SingleThreadFlops;

    private static readonly BlasBackend?[] Instances = new BlasBackend?[Enum.GetValues<BlasBackendKind>().Length];
    private static readonly object DefaultGate = new();
    private static BlasBackend? defaultBackend;

    private readonly BlasLibrary library;
    private readonly BlasThreadPolicy threads;

    private BlasBackend(BlasLibrary library)
    {
        this.library = library;
        threads = new BlasThreadPolicy(library);
    }

    /// <summary>Symbols every backend must export; a library lacking one is rejected with its name.</summary>
    public static IReadOnlyList<string> RequiredSymbols => BlasLibrary.RequiredSymbols;

    /// <summary>The backend used when none is named: <see cref="BackendVariable"/> if set, else MKL, else OpenBLAS.</summary>
    /// <exception cref="NativeLoadException">No backend could be loaded.</exception>
    public static BlasBackend Default
    {
        get
        {
            if (Volatile.Read(ref defaultBackend) is { } backend)
            {
                return backend;
            }

            lock (DefaultGate)
            {
                return defaultBackend ??= ResolveDefault();
            }
        }
    }

    /// <summary>Which provider this is.</summary>
    public BlasBackendKind Kind => library.Kind;

    /// <summary>The file name or path that loaded.</summary>
    public string LibraryPath => library.LibraryPath;

    /// <summary>The OS handle of the loaded file, for diagnostics that look up symbols themselves.</summary>
    internal nint Handle => library.Handle;

    /// <summary>The provider's own version text (MKL version string or OpenBLAS config).</summary>
    public string Version => library.Version;

    /// <summary>MKL's threading layer as set at load time; null for OpenBLAS.</summary>
    public MklThreadingLayer? ThreadingLayer => library.ThreadingLayer;

    /// <summary>Threads the provider uses for one call: the configured count, which the library's temporary
    /// one-thread phases do not change.</summary>
    public int MaxThreads => threads.MaxThreads;

    /// <summary>The native library underneath, for the library's own routines and the native layer's tests.</summary>
    internal BlasLibrary Library => library;

    internal delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm => library.Sgemm;

    internal delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> Dgemm => library.Dgemm;

    internal delegate* unmanaged<int, int, int, int, int, float, float*, int, float, float*, int, void> Ssyrk => library.Ssyrk;

    internal delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void> Dsyrk => library.Dsyrk;

    internal delegate* unmanaged<byte*, byte*, int*, float*, int*, float*, float*, int*, int*, int*, int*, nuint, nuint, void> Ssyevd => library.Ssyevd;

    internal delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, nuint, nuint, void> Dsyevd => library.Dsyevd;

    internal delegate* unmanaged<int*, int*, float*, int*, float*, float*, int*, int*, void> Sgeqrf => library.Sgeqrf;

    internal delegate* unmanaged<int*, int*, double*, int*, double*, double*, int*, int*, void> Dgeqrf => library.Dgeqrf;

    internal delegate* unmanaged<int*, int*, int*, float*, int*, float*, float*, int*, int*, void> Sorgqr => library.Sorgqr;

    internal delegate* unmanaged<int*, int*, int*, double*, int*, double*, double*, int*, int*, void> Dorgqr => library.Dorgqr;

    /// <summary>Whether the thread count can be limited for the calling thread alone (MKL only).</summary>
    internal bool HasThreadLocalLimit => library.HasThreadLocalLimit;

    /// <inheritdoc cref="BlasLibrary.CurrentThreads"/>
    internal int CurrentThreads => library.CurrentThreads;

    /// <inheritdoc cref="BlasThreadPolicy.EnterProcessSingleThreaded"/>
    internal void EnterProcessSingleThreaded() => threads.EnterProcessSingleThreaded();

    /// <inheritdoc cref="BlasThreadPolicy.ExitProcessSingleThreaded"/>
    internal void ExitProcessSingleThreaded() => threads.ExitProcessSingleThreaded();

    /// <summary>Service symbols of a backend kind (versions, thread control).</summary>
    public static IReadOnlyList<string> ServiceSymbols(BlasBackendKind kind) => BlasLibrary.ServiceSymbols(kind);

    /// <summary>Replaces the default backend (a setting for the whole process, e.g. from a CLI flag).</summary>
    /// <exception cref="NativeLoadException">The backend could not be loaded.</exception>
    public static void SetDefault(BlasBackendKind kind)
    {
        var backend = Load(kind);
        lock (DefaultGate)
        {
            defaultBackend = backend;
        }
    }

    /// <summary><see cref="BackendVariable"/> if set, else the first of MKL and OpenBLAS that loads.</summary>
    private static BlasBackend ResolveDefault()
    {
        var forced = Environment.GetEnvironmentVariable(BackendVariable);
        if (!string.IsNullOrWhiteSpace(forced))
        {
            return Load(ParseKind(forced));
        }

        var attempts = new List<string>();
        foreach (var kind in new[] { BlasBackendKind.Mkl, BlasBackendKind.OpenBlas })
        {
            // TryLoad records every attempt, including a library that loaded but was rejected.
            if (BlasLibrary.TryLoad(kind, out var library, out var tried))
            {
                return For(library);
            }

            attempts.AddRange(tried);
        }

        throw new NativeLoadException("No BLAS/LAPACK backend could be loaded (MKL, then OpenBLAS).", attempts);
    }

    /// <summary>Loads (once) and returns the given backend.</summary>
    /// <exception cref="NativeLoadException">The backend could not be loaded; the message lists every attempt.</exception>
    public static BlasBackend Load(BlasBackendKind kind) => For(BlasLibrary.Load(kind));

    /// <summary>Loads the given backend if it is installed; <paramref name="attempts"/> says what was tried.</summary>
    public static bool TryLoad(BlasBackendKind kind, [NotNullWhen(true)] out BlasBackend? backend, out IReadOnlyList<string> attempts)
    {
        backend = BlasLibrary.TryLoad(kind, out var loaded, out attempts) ? For(loaded) : null;
        return backend is not null;
    }

    /// <summary>Parses <c>mkl</c> / <c>openblas</c> in any case.</summary>
    /// <exception cref="ArgumentException">Any other text.</exception>
    public static BlasBackendKind ParseKind(string text) => BlasLibrary.ParseKind(text);

    /// <summary>Sets the provider's thread count for subsequent calls (process-wide for the provider).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is less than 1.</exception>
    public void SetThreads(int threads) => this.threads.SetThreads(threads);

    /// <summary>Whether a symbol is exported by the loaded file.</summary>
    public bool HasSymbol(string name) => library.HasSymbol(name);

    /// <inheritdoc />
    public override string ToString() => library.ToString();

    /// <summary>The wrapper of a loaded library; each kind loads once, so the wrapper is cached per kind.</summary>
    internal static BlasBackend For(BlasLibrary library)
    {
        ref var slot = ref Instances[(int)library.Kind];
        var existing = Volatile.Read(ref slot);
        if (existing is not null && ReferenceEquals(existing.library, library))
        {
            return existing;
        }

        var created = new BlasBackend(library);
        return Interlocked.CompareExchange(ref slot, created, existing) == existing ? created : Volatile.Read(ref slot)!;
    }

    /// <inheritdoc cref="BlasThreadPolicy.LimitThreadsFor"/>
    internal int LimitThreadsFor(long flops) => threads.LimitThreadsFor(flops);

    /// <inheritdoc cref="BlasLibrary.SetCallingThreadThreads"/>
    internal int SetCallingThreadThreads(int threads) => library.SetCallingThreadThreads(threads);

    /// <inheritdoc cref="BlasThreadPolicy.RestoreThreads"/>
    internal void RestoreThreads(int previous) => threads.RestoreThreads(previous);
}
