using System.Runtime.InteropServices;

namespace ShampooMkl.Native;

/// <summary>The loaded Open MPI library: its file, version, raw entry points and predefined handles.</summary>
/// <remarks>
/// Only Open MPI is supported. Its handles (<c>MPI_COMM_WORLD</c>, <c>MPI_DOUBLE</c>, <c>MPI_SUM</c>, ...) are
/// addresses of exported global objects (<c>ompi_mpi_comm_world</c>, ...), which we resolve with
/// <see cref="NativeLibrary.GetExport"/> and pass as pointer-sized handles. MPICH, Intel MPI and MS-MPI encode
/// handles as integer constants compiled into the caller instead, so their libraries are rejected by name
/// rather than misused. The library is loaded once per process: MPI itself can only be initialised once.
/// </remarks>
internal sealed unsafe class MpiLibrary
{
    /// <summary>Environment variable naming an exact libmpi file to try first.</summary>
    public const string PathVariable = "SHAMPOO_MPI_PATH";

    /// <summary>How to install Open MPI on this OS, appended to every load failure.</summary>
    public static string InstallHint => NativeInstallAdvice.MpiForThisMachine;

    /// <summary>Functions we call; a library lacking one is rejected with its name.</summary>
    public static readonly IReadOnlyList<string> RequiredFunctions =
    [
        "MPI_Init_thread", "MPI_Initialized", "MPI_Finalize", "MPI_Finalized", "MPI_Comm_rank", "MPI_Comm_size",
        "MPI_Comm_set_errhandler", "MPI_Allreduce", "MPI_Allgatherv", "MPI_Bcast", "MPI_Barrier", "MPI_Abort",
        "MPI_Iallreduce", "MPI_Iallgatherv", "MPI_Ibcast", "MPI_Ibarrier", "MPI_Test",
        "MPI_Error_string", "MPI_Get_library_version",
    ];

    /// <summary>Open MPI's predefined objects whose addresses are the handles; their presence identifies Open MPI.</summary>
    public static readonly IReadOnlyList<string> RequiredHandles =
    [
        "ompi_mpi_comm_world", "ompi_mpi_errors_return", "ompi_mpi_op_sum", "ompi_mpi_op_max",
        "ompi_mpi_double", "ompi_mpi_float", "ompi_mpi_int32_t", "ompi_mpi_int64_t", "ompi_mpi_byte",
    ];

    internal const int Success = 0;

    /// <summary>MPI_THREAD_SERIALIZED: .NET may call from any pool thread, but never from two at once.</summary>
    internal const int ThreadSerialized = 2;

    /// <summary>MPI_MAX_ERROR_STRING and MPI_MAX_LIBRARY_VERSION_STRING in Open MPI's mpi.h.</summary>
    internal const int MaxString = 256;

    /// <summary>Open MPI's MPI_IN_PLACE is <c>(void*)1</c> (MPICH uses -1: another reason to refuse MPICH).</summary>
    internal static readonly void* InPlace = (void*)1;

    /// <summary>Open MPI's MPI_STATUS_IGNORE is <c>(MPI_Status*)0</c>.</summary>
    internal static readonly void* StatusIgnore = null;

    private static readonly object Gate = new();
    private static MpiLibrary? loaded;

    internal readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    internal readonly delegate* unmanaged<int*, int> Initialized;
    internal readonly delegate* unmanaged<int> FinalizeMpi;
    internal readonly delegate* unmanaged<int*, int> Finalized;
    internal readonly delegate* unmanaged<nint, int*, int> CommRank;
    internal readonly delegate* unmanaged<nint, int*, int> CommSize;
    internal readonly delegate* unmanaged<nint, nint, int> CommSetErrhandler;
    internal readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    internal readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;
    internal readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    internal readonly delegate* unmanaged<nint, int> Barrier;
    internal readonly delegate* unmanaged<nint, int, int> Abort;

    // Non-blocking collectives: the same arguments plus an MPI_Request* (a pointer-sized handle in Open MPI).
    internal readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    internal readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int> Iallgatherv;
    internal readonly delegate* unmanaged<void*, int, nint, int, nint, nint*, int> Ibcast;
    internal readonly delegate* unmanaged<nint, nint*, int> Ibarrier;

    /// <summary>MPI_Test(request, flag, status); status may be <see cref="StatusIgnore"/>.</summary>
    internal readonly delegate* unmanaged<nint*, int*, void*, int> Test;
    private readonly delegate* unmanaged<int, byte*, int*, int> errorString;

    internal readonly nint CommWorld;
    internal readonly nint ErrorsReturn;
    internal readonly nint OpSum;
    internal readonly nint OpMax;
    internal readonly nint TypeDouble;
    internal readonly nint TypeFloat;
    internal readonly nint TypeInt32;
    internal readonly nint TypeInt64;
    internal readonly nint TypeByte;

    private MpiLibrary(string path, nint handle, List<string> attempts)
    {
        LibraryPath = path;
        Handle = handle;

        nint Get(string name)
        {
            if (NativeLibrary.TryGetExport(handle, name, out var address))
            {
                return address;
            }

            attempts.Add($"{path}: required symbol '{name}' is missing");
            throw new NativeLoadException($"The MPI library at {path} lacks the symbol '{name}'.", attempts, InstallHint);
        }

        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Get("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Get("MPI_Initialized");
        FinalizeMpi = (delegate* unmanaged<int>)Get("MPI_Finalize");
        Finalized = (delegate* unmanaged<int*, int>)Get("MPI_Finalized");
        CommRank = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Get("MPI_Comm_set_errhandler");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Get("MPI_Allreduce");
        Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Get("MPI_Allgatherv");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Get("MPI_Bcast");
        Barrier = (delegate* unmanaged<nint, int>)Get("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Get("MPI_Abort");
        Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Get("MPI_Iallreduce");
        Iallgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int>)Get("MPI_Iallgatherv");
        Ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)Get("MPI_Ibcast");
        Ibarrier = (delegate* unmanaged<nint, nint*, int>)Get("MPI_Ibarrier");
        Test = (delegate* unmanaged<nint*, int*, void*, int>)Get("MPI_Test");
        errorString = (delegate* unmanaged<int, byte*, int*, int>)Get("MPI_Error_string");

        CommWorld = Get("ompi_mpi_comm_world");
        ErrorsReturn = Get("ompi_mpi_errors_return");
        OpSum = Get("ompi_mpi_op_sum");
        OpMax = Get("ompi_mpi_op_max");
        TypeDouble = Get("ompi_mpi_double");
        TypeFloat = Get("ompi_mpi_float");
        TypeInt32 = Get("ompi_mpi_int32_t");
        TypeInt64 = Get("ompi_mpi_int64_t");
        TypeByte = Get("ompi_mpi_byte");

        // MPI-3 allows this call before MPI_Init, so a diagnostic can describe the library without starting MPI.
        var getVersion = (delegate* unmanaged<byte*, int*, int>)Get("MPI_Get_library_version");
        var buffer = stackalloc byte[MaxString + 1];
        int length = 0;
        Version = getVersion(buffer, &length) == Success
            ? Marshal.PtrToStringUTF8((nint)buffer, Math.Clamp(length, 0, MaxString)).TrimEnd('\0').Trim()
            : "unknown";
    }

    /// <summary>The file name or path that loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>The raw OS handle, for symbol look-ups by diagnostics.</summary>
    public nint Handle { get; }

    /// <summary>MPI_Get_library_version's text, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".</summary>
    public string Version { get; }

    /// <summary>Whether a symbol is exported by the loaded file.</summary>
    public bool HasSymbol(string name) => NativeLibrary.TryGetExport(Handle, name, out _);

    /// <summary>Loads (once) and returns Open MPI, or throws <see cref="NativeLoadException"/> listing every attempt.</summary>
    public static MpiLibrary Load()
    {
        var attempts = new List<string>();
        return TryLoadCore(attempts) ?? throw new NativeLoadException("Could not load Open MPI.", attempts, InstallHint);
    }

    /// <summary>Loads Open MPI if it is installed; <paramref name="attempts"/> says what was tried.</summary>
    public static bool TryLoad(out MpiLibrary? library, out IReadOnlyList<string> attempts)
    {
        var list = new List<string>();
        try
        {
            library = TryLoadCore(list);
        }
        catch (NativeLoadException)
        {
            library = null;
        }

        attempts = list;
        return library is not null;
    }

    /// <summary>Where libmpi is looked for on this platform, in order: <see cref="PathVariable"/> first, then
    /// <see cref="NativeLibraryCandidates.ListedMpi"/> (native/manifest/RID.json).</summary>
    public static IReadOnlyList<string> Candidates()
    {
        var list = new List<string>();
        var forced = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(forced))
        {
            list.Add(forced);
        }

        list.AddRange(NativeLibraryCandidates.ListedMpi(NativeLibraryCandidates.CurrentOS, RuntimeInformation.ProcessArchitecture));
        return list;
    }

    /// <summary>Formats an MPI error code with MPI_Error_string, falling back to the bare number.</summary>
    internal string DescribeError(int code)
    {
        var buffer = stackalloc byte[MaxString + 1];
        int length = 0;
        return errorString(code, buffer, &length) == Success && length > 0
            ? Marshal.PtrToStringUTF8((nint)buffer, Math.Min(length, MaxString)).TrimEnd('\0')
            : $"unknown MPI error {code}";
    }

    private static MpiLibrary? TryLoadCore(List<string> attempts)
    {
        lock (Gate)
        {
            return loaded ??= LoadFirst(Candidates(), attempts);
        }
    }

    /// <summary>Loads the first candidate that is a complete Open MPI; records why each other one was passed over.</summary>
    internal static MpiLibrary? LoadFirst(IEnumerable<string> candidates, List<string> attempts)
    {
        if (OperatingSystem.IsWindows())
        {
            attempts.Add("Windows: MS-MPI and Intel MPI use integer handles; only Open MPI (Linux, macOS) is supported");
            return null;
        }

        foreach (var candidate in candidates)
        {
            // Open MPI's components are dlopen()ed and some builds leave libmpi's symbols unresolved in them,
            // expecting libmpi in the global namespace; NativeLibrary loads RTLD_LOCAL, so go through libc first.
            // macOS's dlopen defaults to global, so there the plain load below suffices.
            if (OperatingSystem.IsLinux() && Libc.LoadGlobal(candidate) is { } globalError)
            {
                attempts.Add(globalError.EndsWith("No such file or directory", StringComparison.Ordinal)
                    ? $"{candidate}: not found"
                    : $"{candidate}: exists but is not loadable (RTLD_GLOBAL): {globalError}");
                continue;
            }

            var outcome = NativeLibraryProbe.TryLoad(new NativeLibraryCandidate(candidate, [candidate]), typeof(MpiLibrary).Assembly);
            if (outcome.Failure is not null)
            {
                attempts.Add($"{candidate}: {outcome.Failure}");
                continue;
            }

            var handle = outcome.Handle;

            if (!NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _))
            {
                attempts.Add($"{candidate}: not Open MPI (no ompi_mpi_comm_world; MPICH-style integer handles are not supported)");
                continue;
            }

            var lib = new MpiLibrary(candidate, handle, attempts);
            attempts.Add($"{candidate}: loaded ({lib.Version})");
            return lib;
        }

        return null;
    }

    /// <inheritdoc />
    public override string ToString() => $"Open MPI ({LibraryPath}, {Version})";
}
