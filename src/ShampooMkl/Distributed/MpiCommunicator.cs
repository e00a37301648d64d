using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ShampooMkl.Native;
using ShampooMkl.Optim;

namespace ShampooMkl.Distributed;

/// <summary>An <see cref="ICommunicator"/> over <c>MPI_COMM_WORLD</c> of Open MPI.</summary>
/// <remarks>
/// <para>MPI can be initialised once per process and never again after <c>MPI_Finalize</c>, so there is at most
/// one live instance: create it at start-up, share it, dispose it at exit. Every call's return code is checked
/// (<c>MPI_ERRORS_RETURN</c> is set on the world communicator, so errors return instead of aborting) and a failure
/// becomes an <see cref="MpiException"/> naming the call.</para>
/// <para>Size-checked collectives: MPI cannot detect most mismatched calls (a buffer longer on one rank than on another
/// corrupts memory or hangs). So every collective first agrees on its signature with the other ranks — which
/// collective, how many collectives this rank has made, the element count, a hash of the element type, counts and
/// displacements, the root — in one small all-reduce; when any field differs, every rank throws
/// <see cref="CollectiveMismatchException"/> at the same call, before any data moves, and the ranks stay in step.</para>
/// <para>Bounded waits: every collective runs non-blocking on memory the communicator owns (the caller's span is copied
/// in and out) and is polled until it completes or <see cref="CollectiveTimeout"/> passes. On a timeout (a rank or
/// the network between the hosts is gone) this rank throws <see cref="MpiTimeoutException"/>; the pending operation
/// keeps its staging memory for good, so MPI never writes into memory the caller reuses, and every later call is
/// refused. Such a process cannot finalise MPI: report, then exit (or <see cref="Abort"/>).</para>
/// <para>Failure handling: <c>MPI_Finalize</c> waits for every rank, so a rank that gives up while the others
/// sit in a collective must not finalise. After a collective has thrown on this rank (bad arguments, an MPI
/// error or a timeout) or an exception is about to escape unhandled, <see cref="Dispose"/> skips <c>MPI_Finalize</c>;
/// the process then exits without it and mpirun ends the job. A <see cref="CollectiveMismatchException"/> is thrown
/// on every rank alike and does not count as such a failure. An exception that is caught and leads to Dispose is
/// invisible to us: on such paths call <see cref="Abort"/> instead of disposing.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>Set by Open MPI's mpirun/orted in every process it starts.</summary>
    public const string WorldSizeVariable = "OMPI_COMM_WORLD_SIZE";

    /// <summary>Environment variable naming an exact libmpi file to try before the platform's usual names.</summary>
    public const string PathVariable = MpiLibrary.PathVariable;

    /// <summary>Environment variable overriding <see cref="DefaultCollectiveTimeout"/> for <see cref="Create()"/>: seconds, a
    /// positive number (e.g. <c>30</c> or <c>0.5</c>), or <c>infinite</c> to wait for ever.</summary>
    public const string TimeoutVariable = "SHAMPOO_MPI_TIMEOUT";

    /// <summary>How long a collective waits for the other ranks by default: 30 minutes, as PyTorch's distributed
    /// default, because one rank may legitimately compute for minutes (a large block's root refresh, a checkpoint
    /// write) while the others wait in the next collective.</summary>
    public static readonly TimeSpan DefaultCollectiveTimeout = TimeSpan.FromMinutes(30);

    /// <summary>Fields of a collective's signature: collective, call number, count, layout hash, root.</summary>
    private const int SignatureFields = 5;

    /// <summary>Layout hashes are kept below 2^62 so that their negations cannot overflow.</summary>
    private const ulong SignatureMask = (1UL << 62) - 1;

    /// <summary>FNV-1a offset basis, the start of every layout hash.</summary>
    private const ulong LayoutSeed = 14695981039346656037UL;

    /// <summary>Polls spent spinning before a wait starts yielding the core.</summary>
    private const int SpinningPolls = 2000;

    private static readonly TimeSpan YieldingPhase = TimeSpan.FromMilliseconds(20);

    private static readonly Lock CreationGate = new();
    private static MpiCommunicator? live;

    private readonly MpiLibrary lib;
    private readonly Lock callGate = new();
    private readonly bool ownsInitialization;

    // Native memory the non-blocking operations use; allocated once (the stage grows on demand), so calls allocate
    // no managed memory, and abandoned for good after a timeout, when a pending operation may still write into it.
    private readonly long* signature;
    private readonly int* stagedCounts;
    private readonly int* stagedDisplacements;
    private byte* stage;
    private long stageBytes;
    private long calls;
    private volatile bool faulted;
    private bool timedOut;
    private bool disposed;

    private MpiCommunicator(MpiLibrary lib, bool ownsInitialization, int threadLevel, TimeSpan collectiveTimeout)
    {
        this.lib = lib;
        this.ownsInitialization = ownsInitialization;
        ThreadLevel = threadLevel;
        CollectiveTimeout = collectiveTimeout;
        Check(lib.CommSetErrhandler(lib.CommWorld, lib.ErrorsReturn), "MPI_Comm_set_errhandler");
        int rank, size;
        Check(lib.CommRank(lib.CommWorld, &rank), "MPI_Comm_rank");
        Check(lib.CommSize(lib.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        signature = (long*)NativeMemory.AlignedAlloc(2 * SignatureFields * sizeof(long), 64);
        stagedCounts = (int*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(int)), 64);
        stagedDisplacements = (int*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(int)), 64);
    }

    /// <summary>Whether this process was started by Open MPI's mpirun (<c>OMPI_COMM_WORLD_SIZE</c> is set).</summary>
    public static bool IsLaunchedByMpirun => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(WorldSizeVariable));

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int Size { get; }

    /// <summary>How long each collective waits for the other ranks before it throws <see cref="MpiTimeoutException"/>;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.</summary>
    public TimeSpan CollectiveTimeout { get; }

    /// <summary>The MPI thread support level granted (2 = MPI_THREAD_SERIALIZED, which we request).</summary>
    public int ThreadLevel { get; }

    /// <summary>The file name or path of the Open MPI library in use.</summary>
    public string LibraryPath => lib.LibraryPath;

    /// <summary>MPI_Get_library_version's text, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".</summary>
    public string LibraryVersion => lib.Version;

    /// <summary>The Open MPI library in use, for the library's own code and the native layer's tests.</summary>
    internal MpiLibrary Library => lib;

    /// <summary>Initialises MPI (unless something else in the process already did) and returns the world communicator,
    /// whose collectives wait <see cref="TimeoutVariable"/> seconds if it is set, else <see cref="DefaultCollectiveTimeout"/>.</summary>
    /// <exception cref="ArgumentException"><see cref="TimeoutVariable"/> is set but is neither a positive number of seconds nor <c>infinite</c>.</exception>
    /// <exception cref="NativeLoadException">Open MPI is not installed; the message lists every path tried.</exception>
    /// <exception cref="InvalidOperationException">A communicator is already live, or MPI was finalised in this process.</exception>
    /// <exception cref="MpiException">An MPI call failed.</exception>
    public static MpiCommunicator Create() => Create(ParseTimeout(Environment.GetEnvironmentVariable(TimeoutVariable)));

    /// <summary>As <see cref="Create()"/>, with an explicit <paramref name="collectiveTimeout"/> (positive, or
    /// <see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="collectiveTimeout"/> is zero or negative (other than infinite).</exception>
    /// <exception cref="NativeLoadException">Open MPI is not installed; the message lists every path tried.</exception>
    /// <exception cref="InvalidOperationException">A communicator is already live, or MPI was finalised in this process.</exception>
    /// <exception cref="MpiException">An MPI call failed.</exception>
    public static MpiCommunicator Create(TimeSpan collectiveTimeout)
    {
        if (collectiveTimeout <= TimeSpan.Zero && collectiveTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(collectiveTimeout), collectiveTimeout, "The collective timeout must be positive (or infinite).");
        }

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

            live = new MpiCommunicator(lib, owns, provided, collectiveTimeout);
            AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
            return live;
        }
    }

    /// <summary>The timeout <see cref="TimeoutVariable"/> asks for: null or blank gives <see cref="DefaultCollectiveTimeout"/>.</summary>
    /// <exception cref="ArgumentException">Neither a positive finite number of seconds nor <c>infinite</c>.</exception>
    internal static TimeSpan ParseTimeout(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return DefaultCollectiveTimeout;
        }

        if (value.Trim().Equals("infinite", StringComparison.OrdinalIgnoreCase))
        {
            return Timeout.InfiniteTimeSpan;
        }

        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds / 2)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        throw new ArgumentException($"{TimeoutVariable}='{value}' is not a timeout: give a positive number of seconds (e.g. 60) or 'infinite'.", nameof(value));
    }

    /// <inheritdoc />
    /// <exception cref="CollectiveMismatchException">The ranks' lengths (or calls) differ; no data was exchanged, on any rank.</exception>
    /// <exception cref="MpiTimeoutException">The other ranks did not take part within <see cref="CollectiveTimeout"/>.</exception>
    public void AllReduceSum(Span<double> values) => AllReduceSumCore(values, lib.TypeDouble, Collective.AllReduceDouble);

    /// <inheritdoc />
    /// <exception cref="CollectiveMismatchException">The ranks' lengths (or calls) differ; no data was exchanged, on any rank.</exception>
    /// <exception cref="MpiTimeoutException">The other ranks did not take part within <see cref="CollectiveTimeout"/>.</exception>
    public void AllReduceSum(Span<float> values) => AllReduceSumCore(values, lib.TypeFloat, Collective.AllReduceSingle);

    /// <inheritdoc />
    /// <exception cref="CollectiveMismatchException">The ranks' counts, displacements, element types (or calls) differ; no data was exchanged.</exception>
    /// <exception cref="MpiTimeoutException">The other ranks did not take part within <see cref="CollectiveTimeout"/>.</exception>
    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
        where T : unmanaged
    {
        lock (callGate)
        {
            ThrowIfUnusable();
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
            var layout = LayoutSeed ^ (ulong)sizeof(T);
            long total = 0, extent = 0;
            for (var r = 0; r < Size; r++)
            {
                stagedCounts[r] = ScaleOrThrow(counts[r], scale);
                stagedDisplacements[r] = ScaleOrThrow(displacements[r], scale);
                layout = Mix(Mix(layout, (ulong)counts[r]), (ulong)displacements[r]);
                total += counts[r];
                extent = Math.Max(extent, (long)displacements[r] + counts[r]);
            }

            Agree(Collective.AllGatherV, total, layout, 0);
            if (extent == 0)
            {
                return;
            }

            // In place: this rank's elements go where it would receive them, and the staged copy is what MPI
            // reads and writes, so a rank that gives up on a timeout leaves MPI no caller memory to touch.
            var staged = Stage<T>(extent);
            send.CopyTo(staged.Slice(displacements[Rank]));
            nint request;
            Check(lib.Iallgatherv(MpiLibrary.InPlace, stagedCounts[Rank], type, stage, stagedCounts, stagedDisplacements, type, lib.CommWorld, &request),
                "MPI_Iallgatherv");
            Wait(&request, Collective.AllGatherV, agreement: false);
            for (var r = 0; r < Size; r++)
            {
                staged.Slice(displacements[r], counts[r]).CopyTo(receive.Slice(displacements[r]));
            }
        }
    }

    /// <inheritdoc />
    /// <exception cref="CollectiveMismatchException">The ranks' lengths, element types, roots (or calls) differ; no data was exchanged.</exception>
    /// <exception cref="MpiTimeoutException">The other ranks did not take part within <see cref="CollectiveTimeout"/>.</exception>
    public void Broadcast<T>(Span<T> values, int root)
        where T : unmanaged
    {
        lock (callGate)
        {
            ThrowIfUnusable();
            try
            {
                CollectiveArguments.CheckRoot(root, Size);
            }
            catch (ArgumentException)
            {
                faulted = true;
                throw;
            }

            Agree(Collective.Broadcast, values.Length, LayoutSeed ^ (ulong)sizeof(T), root);
            if (values.IsEmpty)
            {
                return;
            }

            var type = DatatypeOf<T>(out var scale);
            var staged = Stage<T>(values.Length);
            if (Rank == root)
            {
                values.CopyTo(staged);
            }

            // Struct spans go as bytes and can exceed int.MaxValue bytes; every rank cuts the same chunks.
            var total = scale == 1 ? values.Length : (long)values.Length * scale;
            for (long offset = 0; offset < total; offset += int.MaxValue)
            {
                var count = (int)Math.Min(int.MaxValue, total - offset);
                nint request;
                Check(lib.Ibcast(stage + (offset * (scale == 1 ? sizeof(T) : 1)), count, type, root, lib.CommWorld, &request), "MPI_Ibcast");
                Wait(&request, Collective.Broadcast, agreement: false);
            }

            if (Rank != root)
            {
                staged.CopyTo(values);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>The agreement every collective starts with (an all-reduce of the call's signature) is itself a barrier.</remarks>
    /// <exception cref="CollectiveMismatchException">Another rank made a different collective call at this point.</exception>
    /// <exception cref="MpiTimeoutException">The other ranks did not arrive within <see cref="CollectiveTimeout"/>.</exception>
    public void Barrier()
    {
        lock (callGate)
        {
            ThrowIfUnusable();
            Agree(Collective.Barrier, 0, LayoutSeed, 0);
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

            try
            {
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
            finally
            {
                if (!timedOut)
                {
                    // After a timeout a pending operation may still write into this memory: it is left to the process's end.
                    NativeMemory.AlignedFree(stage);
                    NativeMemory.AlignedFree(signature);
                    NativeMemory.AlignedFree(stagedCounts);
                    NativeMemory.AlignedFree(stagedDisplacements);
                    stage = null;
                    stageBytes = 0;
                }
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

    private void AllReduceSumCore<T>(Span<T> values, nint type, Collective collective)
        where T : unmanaged
    {
        lock (callGate)
        {
            ThrowIfUnusable();

            // Even an empty span takes part in the agreement: a rank skipping a call others make is a mismatch, not a hang.
            Agree(collective, values.Length, LayoutSeed, 0);
            if (values.IsEmpty)
            {
                return;
            }

            var staged = Stage<T>(values.Length);
            values.CopyTo(staged);
            nint request;
            Check(lib.Iallreduce(MpiLibrary.InPlace, stage, values.Length, type, lib.OpSum, lib.CommWorld, &request), "MPI_Iallreduce");
            Wait(&request, collective, agreement: false);
            staged.CopyTo(values);
        }
    }

    /// <summary>Collective: all ranks compare this call's signature (which collective, how many calls so far, element
    /// count, layout hash, root) by one all-reduce of the values and their negations under MPI_MAX, which yields every
    /// field's maximum and minimum over the ranks. All ranks see the same result, so on a mismatch all of them throw
    /// at the same call, before any data moves, and stay in step for the next one.</summary>
    private void Agree(Collective collective, long count, ulong layout, int root)
    {
        calls++;
        var mine = signature;
        mine[0] = (long)collective;
        mine[1] = calls;
        mine[2] = count;
        mine[3] = (long)(layout & SignatureMask);
        mine[4] = root;
        for (var i = 0; i < SignatureFields; i++)
        {
            mine[SignatureFields + i] = -mine[i];
        }

        nint request;
        Check(lib.Iallreduce(MpiLibrary.InPlace, mine, 2 * SignatureFields, lib.TypeInt64, lib.OpMax, lib.CommWorld, &request), "MPI_Iallreduce");
        Wait(&request, collective, agreement: true);
        for (var i = 0; i < SignatureFields; i++)
        {
            var (high, low) = (mine[i], -mine[SignatureFields + i]);
            if (high != low)
            {
                throw new CollectiveMismatchException(Name(collective), DescribeMismatch(collective, i, low, high));
            }
        }
    }

    private static string DescribeMismatch(Collective collective, int field, long low, long high) => field switch
    {
        0 => $"Ranks called different collectives at the same point ({Name((Collective)low)} and {Name((Collective)high)}); " +
             "every rank must make the same calls in the same order. No data was exchanged.",
        1 => $"Ranks reached {Name(collective)} after different numbers of collective calls ({low} to {high}): some rank skipped " +
             "or added a call. No data was exchanged.",
        2 => $"Ranks called {Name(collective)} with different lengths ({low:N0} to {high:N0} elements). No data was exchanged.",
        3 => $"Ranks called {Name(collective)} with different element types, counts or displacements. No data was exchanged.",
        _ => $"Ranks called {Name(collective)} with different roots ({low} to {high}). No data was exchanged.",
    };

    private static string Name(Collective collective) => collective switch
    {
        Collective.AllReduceDouble => "MPI_Allreduce (double)",
        Collective.AllReduceSingle => "MPI_Allreduce (float)",
        Collective.AllGatherV => "MPI_Allgatherv",
        Collective.Broadcast => "MPI_Bcast",
        Collective.Barrier => "MPI_Barrier",
        _ => $"collective #{(long)collective}",
    };

    /// <summary>Polls <paramref name="request"/> until it completes or <see cref="CollectiveTimeout"/> passes.</summary>
    /// <remarks>Spins first (most collectives finish in microseconds), then yields, then sleeps a millisecond between
    /// polls so that a rank waiting for a slow peer leaves the cores to it. On a timeout the request stays pending:
    /// the staging memory it uses is never freed or reused, and the communicator refuses further calls.</remarks>
    private void Wait(nint* request, Collective collective, bool agreement)
    {
        var started = Stopwatch.GetTimestamp();
        var polls = 0;
        while (true)
        {
            int done;
            Check(lib.Test(request, &done, MpiLibrary.StatusIgnore), "MPI_Test");
            if (done != 0)
            {
                return;
            }

            var waited = Stopwatch.GetElapsedTime(started);
            if (waited > CollectiveTimeout && CollectiveTimeout != Timeout.InfiniteTimeSpan)
            {
                timedOut = true;
                faulted = true;
                throw new MpiTimeoutException(agreement ? $"the agreement before {Name(collective)}" : Name(collective), Rank, Size, CollectiveTimeout);
            }

            if (++polls < SpinningPolls)
            {
                Thread.SpinWait(16);
            }
            else if (waited < YieldingPhase)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>The staging buffer as a span of <paramref name="length"/> elements, grown (never shrunk) as needed.</summary>
    private Span<T> Stage<T>(long length)
        where T : unmanaged
    {
        var bytes = length * sizeof(T);
        if (length > int.MaxValue)
        {
            faulted = true;
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{length} elements exceed one span.");
        }

        if (bytes > stageBytes)
        {
            // No request is pending here (every earlier one completed or the communicator refused this call).
            NativeMemory.AlignedFree(stage);
            stage = null;
            stageBytes = 0;
            stage = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
            stageBytes = bytes;
        }

        return new Span<T>(stage, (int)length);
    }

    private static ulong Mix(ulong hash, ulong value) => (hash ^ value) * 1099511628211UL;

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

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (timedOut)
        {
            throw new InvalidOperationException(
                "An earlier collective of this communicator timed out; the ranks are no longer in step, so no further collective can run. End the process.");
        }
    }

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

    /// <summary>The collectives, as numbered in the agreement signature (the numbers are part of the protocol between ranks).</summary>
    private enum Collective : long
    {
        AllReduceDouble = 1,
        AllReduceSingle = 2,
        AllGatherV = 3,
        Broadcast = 4,
        Barrier = 5,
    }
}
