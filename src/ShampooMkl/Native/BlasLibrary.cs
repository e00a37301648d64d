using System.Runtime.InteropServices;

namespace ShampooMkl.Native;

/// <summary>One loaded BLAS/LAPACK provider: its file, version and the raw entry points we call.</summary>
/// <remarks>
/// Both MKL and OpenBLAS export the same CBLAS and Fortran LAPACK symbols, so one table of unmanaged
/// function pointers serves both; there is no per-call marshalling and no delegate allocation. A process
/// may hold both backends at once (tests compare them); each kind is loaded at most once because MKL's
/// threading layer can only be chosen before its first call.
/// </remarks>
internal sealed unsafe class BlasLibrary
{
    /// <summary>Symbols every backend must export; a library lacking one is rejected with its name.</summary>
    public static readonly IReadOnlyList<string> RequiredSymbols =
    [
        "cblas_sgemm", "cblas_dgemm", "cblas_ssyrk", "cblas_dsyrk",
        "ssyevd_", "dsyevd_", "sgeqrf_", "dgeqrf_", "sorgqr_", "dorgqr_",
    ];

    /// <summary>Service symbols per backend (versions, thread control).</summary>
    public static IReadOnlyList<string> ServiceSymbols(BlasBackendKind kind) => kind == BlasBackendKind.Mkl
        ? ["MKL_Set_Threading_Layer", "MKL_Set_Interface_Layer", "MKL_Get_Version_String", "MKL_Set_Num_Threads", "MKL_Get_Max_Threads", "MKL_Set_Num_Threads_Local"]
        : ["openblas_get_config", "openblas_set_num_threads", "openblas_get_num_threads"];

    private static readonly object Gate = new();
    private static readonly Dictionary<BlasBackendKind, BlasLibrary> Loaded = new();

    internal readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;
    internal readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> Dgemm;
    internal readonly delegate* unmanaged<int, int, int, int, int, float, float*, int, float, float*, int, void> Ssyrk;
    internal readonly delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void> Dsyrk;
    internal readonly delegate* unmanaged<byte*, byte*, int*, float*, int*, float*, float*, int*, int*, int*, int*, nuint, nuint, void> Ssyevd;
    internal readonly delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, nuint, nuint, void> Dsyevd;
    internal readonly delegate* unmanaged<int*, int*, float*, int*, float*, float*, int*, int*, void> Sgeqrf;
    internal readonly delegate* unmanaged<int*, int*, double*, int*, double*, double*, int*, int*, void> Dgeqrf;
    internal readonly delegate* unmanaged<int*, int*, int*, float*, int*, float*, float*, int*, int*, void> Sorgqr;
    internal readonly delegate* unmanaged<int*, int*, int*, double*, int*, double*, double*, int*, int*, void> Dorgqr;
    private readonly delegate* unmanaged<int, void> setNumThreads;
    private readonly delegate* unmanaged<int, int> setLocalThreads;
    private readonly delegate* unmanaged<int> getNumThreads;

    private BlasLibrary(BlasBackendKind kind, string path, nint handle, MklThreadingLayer? threading, List<string> attempts)
    {
        Kind = kind;
        LibraryPath = path;
        Handle = handle;
        ThreadingLayer = threading;

        nint Get(string name)
        {
            if (NativeLibrary.TryGetExport(handle, name, out var address))
            {
                return address;
            }

            attempts.Add($"{path}: required symbol '{name}' is missing");
            throw new NativeLoadException($"The {kind} library at {path} lacks the symbol '{name}'.", attempts);
        }

        Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)Get("cblas_sgemm");
        Dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)Get("cblas_dgemm");
        Ssyrk = (delegate* unmanaged<int, int, int, int, int, float, float*, int, float, float*, int, void>)Get("cblas_ssyrk");
        Dsyrk = (delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void>)Get("cblas_dsyrk");
        Ssyevd = (delegate* unmanaged<byte*, byte*, int*, float*, int*, float*, float*, int*, int*, int*, int*, nuint, nuint, void>)Get("ssyevd_");
        Dsyevd = (delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, nuint, nuint, void>)Get("dsyevd_");
        Sgeqrf = (delegate* unmanaged<int*, int*, float*, int*, float*, float*, int*, int*, void>)Get("sgeqrf_");
        Dgeqrf = (delegate* unmanaged<int*, int*, double*, int*, double*, double*, int*, int*, void>)Get("dgeqrf_");
        Sorgqr = (delegate* unmanaged<int*, int*, int*, float*, int*, float*, float*, int*, int*, void>)Get("sorgqr_");
        Dorgqr = (delegate* unmanaged<int*, int*, int*, double*, int*, double*, double*, int*, int*, void>)Get("dorgqr_");

        if (kind == BlasBackendKind.Mkl)
        {
            // The mixed-case names are MKL's C entry points; the lower-case ones are Fortran and take pointers.
            setNumThreads = (delegate* unmanaged<int, void>)Get("MKL_Set_Num_Threads");
            getNumThreads = (delegate* unmanaged<int>)Get("MKL_Get_Max_Threads");
            setLocalThreads = (delegate* unmanaged<int, int>)Get("MKL_Set_Num_Threads_Local");
            var versionString = (delegate* unmanaged<byte*, int, void>)Get("MKL_Get_Version_String");
            // MKL pads with blanks Fortran-style and does not always terminate: clear, then cut at the padding.
            var buffer = stackalloc byte[256];
            new Span<byte>(buffer, 256).Clear();
            versionString(buffer, 255);
            var text = Marshal.PtrToStringUTF8((nint)buffer) ?? "unknown";
            var pad = text.IndexOf("  ", StringComparison.Ordinal);
            Version = (pad > 0 ? text[..pad] : text).Trim();
        }
        else
        {
            setNumThreads = (delegate* unmanaged<int, void>)Get("openblas_set_num_threads");
            getNumThreads = (delegate* unmanaged<int>)Get("openblas_get_num_threads");
            var config = (delegate* unmanaged<byte*>)Get("openblas_get_config");
            Version = Marshal.PtrToStringUTF8((nint)config())?.Trim() ?? "unknown";
        }

        foreach (var symbol in RequiredSymbols.Concat(ServiceSymbols(kind)))
        {
            Get(symbol);
        }

        ThreadsAtLoad = getNumThreads();
    }

    /// <summary>Which provider this is.</summary>
    public BlasBackendKind Kind { get; }

    /// <summary>The file name or path that loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>The raw OS handle, for symbol look-ups by diagnostics.</summary>
    public nint Handle { get; }

    /// <summary>The provider's own version text (MKL version string or OpenBLAS config).</summary>
    public string Version { get; }

    /// <summary>MKL's threading layer as set at load time; null for OpenBLAS.</summary>
    public MklThreadingLayer? ThreadingLayer { get; }

    /// <summary>The provider's thread count when it loaded, before this library changed it.</summary>
    internal int ThreadsAtLoad { get; }

    /// <summary>The provider's own count right now, on the calling thread (lowered inside one-thread phases and
    /// thread-local limits); for checks of those limits.</summary>
    internal int CurrentThreads => getNumThreads();

    /// <summary>The provider's process-wide thread setter (<c>MKL_Set_Num_Threads</c> / <c>openblas_set_num_threads</c>),
    /// unchecked; the policy over it is <c>ShampooMkl.Linalg.BlasThreadPolicy</c>.</summary>
    internal void SetNumThreads(int threads) => setNumThreads(threads);

    /// <summary>Whether the thread count can be limited for the calling thread alone (MKL's
    /// <c>MKL_Set_Num_Threads_Local</c>); OpenBLAS has only its process-wide count.</summary>
    internal bool HasThreadLocalLimit => setLocalThreads != null;

    /// <summary>MKL only: sets the calling thread's thread count (0 = back to the process-wide one) and returns the
    /// previous local setting.</summary>
    internal int SetCallingThreadThreads(int threads) => setLocalThreads(threads);

    /// <summary>Whether a symbol is exported by the loaded file.</summary>
    public bool HasSymbol(string name) => NativeLibrary.TryGetExport(Handle, name, out _);

    /// <summary>Loads (once) and returns the given backend, or throws <see cref="NativeLoadException"/>.</summary>
    public static BlasLibrary Load(BlasBackendKind kind)
    {
        var attempts = new List<string>();
        return TryLoadCore(kind, attempts) ?? throw Failure(kind, attempts);
    }

    /// <summary>Loads the given backend if it is installed; <paramref name="attempts"/> says what was tried.</summary>
    public static bool TryLoad(BlasBackendKind kind, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BlasLibrary? library, out IReadOnlyList<string> attempts)
    {
        var list = new List<string>();
        try
        {
            library = TryLoadCore(kind, list);
        }
        catch (NativeLoadException)
        {
            library = null;
        }

        attempts = list;
        return library is not null;
    }

    /// <summary>Parses <c>mkl</c> / <c>openblas</c> with a clear error for anything else.</summary>
    public static BlasBackendKind ParseKind(string text) => text.Trim().ToLowerInvariant() switch
    {
        "mkl" => BlasBackendKind.Mkl,
        "openblas" => BlasBackendKind.OpenBlas,
        _ => throw new ArgumentException($"Unknown BLAS backend '{text}'; use 'mkl' or 'openblas' ({NativeLibraryCandidates.BackendVariable}).", nameof(text)),
    };

    private static BlasLibrary? TryLoadCore(BlasBackendKind kind, List<string> attempts)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(kind, out var existing))
            {
                return existing;
            }

            var lib = LoadFirst(kind, NativeLibraryCandidates.For(kind), attempts);
            if (lib is not null)
            {
                Loaded[kind] = lib;
            }

            return lib;
        }
    }

    /// <summary>The exception for a backend none of whose candidates loaded: the attempts, then the install line for this OS.</summary>
    internal static NativeLoadException Failure(BlasBackendKind kind, IReadOnlyList<string> attempts) =>
        new($"Could not load the {kind} backend.", attempts, NativeInstallAdvice.BlasForThisMachine);

    /// <summary>Loads the first of <paramref name="candidates"/> that is a complete <paramref name="kind"/> library, uncached;
    /// <paramref name="attempts"/> gets one line per listed file passed over, with the loader's reason.</summary>
    internal static BlasLibrary? LoadFirst(BlasBackendKind kind, IEnumerable<NativeLibraryCandidate> candidates, List<string> attempts)
    {
        var anyListed = false;
        foreach (var candidate in candidates)
        {
            anyListed = true;
            var outcome = NativeLibraryProbe.TryLoad(candidate, typeof(BlasLibrary).Assembly);
            if (outcome.Failure is not null)
            {
                attempts.Add($"{kind}: {outcome.Path}: {outcome.Failure}");
                continue;
            }

            var path = outcome.Path;
            MklThreadingLayer? layer = null;
            if (kind == BlasBackendKind.Mkl)
            {
                layer = ConfigureMkl(outcome.Handle, path, attempts);
                if (layer is null)
                {
                    continue;
                }
            }

            var lib = new BlasLibrary(kind, path, outcome.Handle, layer, attempts);
            attempts.Add($"{kind}: {path}: loaded ({lib.Version})");
            return lib;
        }

        if (!anyListed)
        {
            attempts.Add($"{kind}: no library is known for {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})");
        }

        return null;
    }

    /// <summary>Chooses MKL's interface and threading layers before any other MKL call, as MKL requires.</summary>
    private static MklThreadingLayer? ConfigureMkl(nint handle, string path, List<string> attempts)
    {
        if (!NativeLibrary.TryGetExport(handle, "MKL_Set_Threading_Layer", out var setThreading) ||
            !NativeLibrary.TryGetExport(handle, "MKL_Set_Interface_Layer", out var setInterface))
        {
            attempts.Add($"Mkl: {path}: MKL_Set_Threading_Layer/MKL_Set_Interface_Layer missing (not libmkl_rt?)");
            return null;
        }

        var wanted = ParseThreading(Environment.GetEnvironmentVariable(NativeLibraryCandidates.MklThreadingVariable));
        if (wanted == MklThreadingLayer.Gnu)
        {
            // Without libgomp in the global namespace MKL aborts the process on omp_get_num_procs.
            var error = Libc.LoadGlobal("libgomp.so.1");
            if (error is not null)
            {
                attempts.Add($"Mkl: libgomp.so.1 could not be loaded globally ({error}); using the sequential layer");
                wanted = MklThreadingLayer.Sequential;
            }
        }
        else if (wanted == MklThreadingLayer.Intel && FindIntelOpenMp(path) is { } missing)
        {
            attempts.Add($"Mkl: {missing}; using the sequential layer");
            wanted = MklThreadingLayer.Sequential;
        }

        const int lp64 = 0;
        ((delegate* unmanaged<int, int>)setInterface)(lp64);
        var code = wanted switch
        {
            MklThreadingLayer.Intel => 0,
            MklThreadingLayer.Sequential => 1,
            _ => 3,
        };
        ((delegate* unmanaged<int, int>)setThreading)(code);

        // Bit-identical resume from a checkpoint needs MKL to reduce in the same order every time: by default
        // MKL may use fewer threads when the machine is busy (dynamic adjustment) and pick kernels by alignment.
        // Fixing the thread count and asking for run-to-run reproducibility (CNR "auto") removes both.
        if (NativeLibrary.TryGetExport(handle, "MKL_Set_Dynamic", out var setDynamic))
        {
            ((delegate* unmanaged<int, void>)setDynamic)(0);
        }

        const int cbwrAuto = 2;
        if (NativeLibrary.TryGetExport(handle, "MKL_CBWR_Set", out var setCbwr) &&
            ((delegate* unmanaged<int, int>)setCbwr)(cbwrAuto) != 0)
        {
            attempts.Add($"Mkl: {path}: MKL_CBWR_Set(AUTO) was refused; results may differ in the last bits between runs");
        }

        return wanted;
    }

    /// <summary>Loads this OS's Intel OpenMP runtime (<see cref="NativeLibraryCandidates.IntelOpenMpLibrary"/>) from beside
    /// MKL or the usual search; null when it loaded, else why not.</summary>
    private static string? FindIntelOpenMp(string mklPath)
    {
        var os = NativeLibraryCandidates.CurrentOS;
        var name = NativeLibraryCandidates.IntelOpenMpLibrary(os);
        var paths = NativeLibraryCandidates.IntelOpenMpSearch(os, mklPath, AppContext.BaseDirectory, Environment.GetEnvironmentVariable);
        var outcome = NativeLibraryProbe.TryLoad(new NativeLibraryCandidate(name, paths), typeof(BlasLibrary).Assembly);
        return outcome.Failure is null ? null : $"{outcome.Path}: {outcome.Failure}";
    }

    /// <summary>Parses <c>SHAMPOO_MKL_THREADING</c>; the default layer is Intel OpenMP, the one that scales large calls
    /// across threads (measurements in docs/performance.md); it degrades to sequential when libiomp5 is missing.</summary>
    internal static MklThreadingLayer ParseThreading(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "intel" => MklThreadingLayer.Intel,
        "gnu" => MklThreadingLayer.Gnu,
        "sequential" or "seq" => MklThreadingLayer.Sequential,
        _ => throw new ArgumentException($"Unknown MKL threading layer '{text}'; use sequential, gnu or intel ({NativeLibraryCandidates.MklThreadingVariable})."),
    };

    /// <inheritdoc />
    public override string ToString() => $"{Kind} ({LibraryPath}, {Version})";
}
