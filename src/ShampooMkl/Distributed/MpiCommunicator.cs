using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using ShampooMkl.Native;
using ShampooMkl.Optim;

namespace ShampooMkl.Distributed;

/// <summary>An <see cref="ICommunicator"/> over <c>MPI_COMM_WORLD</c> of Open MPI.</summary>
/// <remarks>
/// <para>MPI can be initialised once per process and never again after <c>MPI_Finalize</c>, so there is at most
/// one live instance: create it at start-up, share it, dispose it at exit. Every call's return code is checked
/// (<c>MPI_ERRORS_RETURN</c> is set on the world communicator, so errors return instead of aborting) and a failure
/// becomes an <see cref="MpiException"/> naming the call.</para>
/// <para>Failure handling: <c>MPI_Finalize</c> waits for every rank, so a rank that gives up while the others
/// sit in a collective must not finalise. After a collective has thrown on this rank (bad arguments or an MPI
/// error) or an exception is about to escape unhandled, <see cref="Dispose"/> skips <c>MPI_Finalize</c>; the
/// process then exits without it and mpirun ends the job. An exception that is caught and leads to Dispose is
/// invisible to us: on such paths call <see cref="Abort"/> instead of disposing.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>Set by Open MPI's mpirun/orted in every process it starts.</summary>
    public const string WorldSizeVariable = "OMPI_COMM_WORLD_SIZE";

    /// <summary>Environment variable naming an exact libmpi file to try before the platform's usual names.</summary>
    public const string PathVariable = MpiLibrary.PathVariable;

    private static readonly Lock CreationGate = new();
    private static MpiCommunicator? live;

    private readonly MpiLibrary lib;
    private readonly Lock callGate = new();
    private readonly bool ownsInitialization;

    // Scratch for gathers of types MPI has no name for, sent as bytes: allocated once so calls allocate nothing.
    private readonly int[] byteCounts;
    private readonly int[] byteDisplacements;
    private volatile bool faulted;
    private bool disposed;

    private MpiCommunicator(MpiLibrary lib, bool ownsInitialization, int threadLevel)
    {
        this.lib = lib;
        this.ownsInitialization = ownsInitialization;
        ThreadLevel = threadLevel;
        Check(lib.CommSetErrhandler(lib.CommWorld, lib.ErrorsReturn), "MPI_Comm_set_errhandler");
        int rank, size;
        Check(lib.CommRank(lib.CommWorld, &rank), "MPI_Comm_rank");
        Check(lib.CommSize(lib.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        byteCounts = new int[size];
        byteDisplacements = new int[size];
    }

    /// <summary>Whether this process was started by Open MPI's mpirun (<c>OMPI_COMM_WORLD_SIZE</c> is set).</summary>
    public static bool IsLaunchedByMpirun => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(WorldSizeVariable));

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int Size { get; }

    /// <summary>The MPI thread support level granted (2 = MPI_THREAD_SERIALIZED, which we request).</summary>
    public int ThreadLevel { get; }

    /// <summary>The file name or path of the Open MPI library in use.</summary>
    public string LibraryPath => lib.LibraryPath;

    /// <summary>MPI_Get_library_version's text, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".</summary>
    public string LibraryVersion => lib.Version;

    /// <summary>The Open MPI library in use, for the library's own code and the native layer's tests.</summary>
    internal MpiLibrary Library => lib;

    /// <summary>Initialises MPI (unless something else in the process already did) and returns the world communicator.</summary>
    /// <exception cref="NativeLoadException">Open MPI is not installed; the message lists every path tried.</exception>
    /// <exception cref="InvalidOperationException">A communicator is already live, or MPI was finalised in this process.</exception>
    /// <exception cref="MpiException">An MPI call failed.</exception>
    public static MpiCommunicator Create()
    {
        lock (CreationGate)
        {
            if (live is not null)
            {
                throw new InvalidOperationException(
                    "An MpiCommunicator is already live in this process. MPI can be initialised only once: share that instance.");
            }

            var lib = MpiLibrary.Load();
            int flag;
            CheckStatic(lib.Finalized(&flag), "MPI_Finalized");
            if (flag != 0)
            {
                throw new InvalidOperationException("MPI was finalised earlier in this process and cannot be initialised again.");
            }

            CheckStatic(lib.Initialized(&flag), "MPI_Initialized");
            var owns = flag == 0;
            var provided = MpiLibrary.ThreadSerialized;
            if (owns)
            {
                // Initialisation errors are fatal in MPI (no error handler exists yet); the code is still checked
                // for implementations that do return.
                CheckStatic(lib.InitThread(null, null, MpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread");
            }

            live = new MpiCommunicator(lib, owns, provided);
            AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
            return live;
        }
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> values) => AllReduceSumCore(values, lib.TypeDouble);

    /// <inheritdoc />
    public void AllReduceSum(Span<float> values) => AllReduceSumCore(values, lib.TypeFloat);

    /// <inheritdoc />
    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
        where T : unmanaged
    {
        lock (callGate)
        {
            ThrowIfDisposed();
            try
            {
                CollectiveArguments.CheckGather(Rank, Size, send.Length, receive.Length, counts, displacements);
            }
            catch (ArgumentException)
            {
                faulted = true;
                throw;
            }

            var type = DatatypeOf<T>(out var scale);
            var sendCount = send.Length;
            if (scale != 1)
            {
                sendCount = ScaleOrThrow(send.Length, scale);
                for (var r = 0; r < Size; r++)
                {
                    byteCounts[r] = ScaleOrThrow(counts[r], scale);
                    byteDisplacements[r] = ScaleOrThrow(displacements[r], scale);
                }

                counts = byteCounts;
                displacements = byteDisplacements;
            }

            fixed (T* s = send)
            fixed (T* d = receive)
            fixed (int* c = counts)
            fixed (int* o = displacements)
            {
                Check(lib.Allgatherv(s, sendCount, type, d, c, o, type, lib.CommWorld), "MPI_Allgatherv");
            }
        }
    }

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> values, int root)
        where T : unmanaged
    {
        lock (callGate)
        {
            ThrowIfDisposed();
            try
            {
                CollectiveArguments.CheckRoot(root, Size);
            }
            catch (ArgumentException)
            {
                faulted = true;
                throw;
            }

            if (values.IsEmpty)
            {
                return;
            }

            var type = DatatypeOf<T>(out var scale);
            fixed (T* p = values)
            {
                if (scale == 1)
                {
                    Check(lib.Bcast(p, values.Length, type, root, lib.CommWorld), "MPI_Bcast");
                }
                else
                {
                    // Struct spans go as bytes and can exceed int.MaxValue bytes; every rank cuts the same chunks.
                    var total = (long)values.Length * scale;
                    for (long offset = 0; offset < total; offset += int.MaxValue)
                    {
                        var count = (int)Math.Min(int.MaxValue, total - offset);
                        Check(lib.Bcast((byte*)p + offset, count, type, root, lib.CommWorld), "MPI_Bcast");
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public void Barrier()
    {
        lock (callGate)
        {
            ThrowIfDisposed();
            Check(lib.Barrier(lib.CommWorld), "MPI_Barrier");
        }
    }

    /// <inheritdoc />
    /// <remarks>Deliberately takes no lock: another thread may be blocked inside a collective.</remarks>
    [DoesNotReturn]
    public void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (!disposed)
        {
            lib.Abort(lib.CommWorld, exitCode);
        }

        Environment.Exit(exitCode);
    }

    /// <summary>Calls <c>MPI_Finalize</c> once, if this instance initialised MPI and no collective failed here.</summary>
    /// <exception cref="MpiException">MPI_Finalize returned an error.</exception>
    public void Dispose()
    {
        lock (callGate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            lock (CreationGate)
            {
                live = null;
                AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
            }

            if (!ownsInitialization || faulted)
            {
                return;
            }

            int flag;
            Check(lib.Finalized(&flag), "MPI_Finalized");
            if (flag == 0)
            {
                Check(lib.FinalizeMpi(), "MPI_Finalize");
            }
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"MPI rank {Rank} of {Size} ({lib.Version})";

    /// <summary>Marks the live communicator faulted when the process is about to die of an exception.</summary>
    /// <remarks>The runtime raises this before it runs the finally blocks of a <c>using</c>, whose Dispose would
    /// otherwise enter MPI_Finalize and wait forever for ranks stuck in a collective this rank never joins.
    /// No lock: another thread may hold the call lock inside a collective.</remarks>
    private static void OnUnhandledException(object sender, UnhandledExceptionEventArgs e)
    {
        if (Volatile.Read(ref live) is { } communicator)
        {
            communicator.faulted = true;
        }
    }

    private void AllReduceSumCore<T>(Span<T> values, nint type)
        where T : unmanaged
    {
        lock (callGate)
        {
            ThrowIfDisposed();
            if (values.IsEmpty)
            {
                // Lengths must match on all ranks, so either all skip or the program is already wrong.
                return;
            }

            fixed (T* p = values)
            {
                Check(lib.Allreduce(MpiLibrary.InPlace, p, values.Length, type, lib.OpSum, lib.CommWorld), "MPI_Allreduce");
            }
        }
    }

    /// <summary>The MPI datatype for T; types MPI has no name for go as bytes, <paramref name="scale"/> per element.</summary>
    private nint DatatypeOf<T>(out int scale)
        where T : unmanaged
    {
        scale = 1;
        if (typeof(T) == typeof(double))
        {
            return lib.TypeDouble;
        }

        if (typeof(T) == typeof(float))
        {
            return lib.TypeFloat;
        }

        if (typeof(T) == typeof(int))
        {
            return lib.TypeInt32;
        }

        if (typeof(T) == typeof(long))
        {
            return lib.TypeInt64;
        }

        scale = sizeof(T);
        return lib.TypeByte;
    }

    private int ScaleOrThrow(int count, int scale)
    {
        var bytes = (long)count * scale;
        if (bytes > int.MaxValue)
        {
            faulted = true;
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{count} elements of {scale} bytes exceed MPI's int count.");
        }

        return (int)bytes;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Check(int code, string function)
    {
        if (code != MpiLibrary.Success)
        {
            faulted = true;
            Throw(lib, code, function);
        }
    }

    /// <summary>For calls made before MPI is initialised, when MPI_Error_string may not be called yet.</summary>
    private static void CheckStatic(int code, string function)
    {
        if (code != MpiLibrary.Success)
        {
            throw new MpiException(function, code, "(no error text: MPI is not initialised)");
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(MpiLibrary lib, int code, string function) =>
        throw new MpiException(function, code, lib.DescribeError(code));
}
