using ShampooMkl.Native;

namespace ShampooMkl.Linalg;

/// <summary>How many threads one loaded provider may use: the configured count, the library's process-wide
/// one-thread holds, and the one-thread limit for small calls.</summary>
/// <remarks>Native only declares the provider's thread entry points; this is the policy on top of them. There is one
/// instance per loaded library (owned by its <see cref="BlasBackend"/>), as there is one library per kind.</remarks>
internal sealed class BlasThreadPolicy
{
    /// <summary>Below this many flops a BLAS call runs on one thread: waking a second thread costs more than it saves.
    /// Tuned by measurement; see docs/performance.md.</summary>
    public const long SingleThreadFlops = 1L << 22;

    private readonly BlasLibrary library;
    private readonly object threadGate = new();
    private int configuredThreads;
    private int singleThreadHolds;

    public BlasThreadPolicy(BlasLibrary library)
    {
        this.library = library;
        configuredThreads = library.ThreadsAtLoad;
    }

    /// <summary>Threads the provider uses for one call: the configured count (from the provider at load, then
    /// <see cref="SetThreads"/>), which temporary one-thread phases of the library do not change.</summary>
    /// <remarks>Decisions that must be the same on every rank and in every run (which refresh blocks get every thread)
    /// read this, not the provider's momentary count, which another thread's one-thread phase may have lowered.</remarks>
    public int MaxThreads => Volatile.Read(ref configuredThreads);

    /// <summary>Sets the provider's thread count for subsequent calls (process-wide for the provider).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is less than 1.</exception>
    public void SetThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        lock (threadGate)
        {
            configuredThreads = threads;
            if (singleThreadHolds == 0)
            {
                library.SetNumThreads(threads);
            }
        }
    }

    /// <summary>Limits the whole provider to one thread until the matching <see cref="ExitProcessSingleThreaded"/>;
    /// holds nest and count, so two callers' phases cannot restore each other's limit too early.</summary>
    public void EnterProcessSingleThreaded()
    {
        lock (threadGate)
        {
            if (singleThreadHolds++ == 0)
            {
                library.SetNumThreads(1);
            }
        }
    }

    /// <summary>Ends one hold of <see cref="EnterProcessSingleThreaded"/>; the last restores the configured count.</summary>
    public void ExitProcessSingleThreaded()
    {
        lock (threadGate)
        {
            if (--singleThreadHolds == 0)
            {
                library.SetNumThreads(configuredThreads);
            }
        }
    }

    /// <summary>For a call of <paramref name="flops"/> flops, limits MKL to one thread on the calling thread only
    /// and returns what to pass to <see cref="RestoreThreads"/>; a no-op (−1) for large calls and for OpenBLAS,
    /// which already runs small calls on one thread.</summary>
    public int LimitThreadsFor(long flops) =>
        library.HasThreadLocalLimit && flops < SingleThreadFlops ? library.SetCallingThreadThreads(1) : -1;

    /// <summary>Undoes <see cref="LimitThreadsFor"/> (or a <see cref="BlasLibrary.SetCallingThreadThreads"/>).</summary>
    public void RestoreThreads(int previous)
    {
        if (previous >= 0)
        {
            library.SetCallingThreadThreads(previous);
        }
    }
}
