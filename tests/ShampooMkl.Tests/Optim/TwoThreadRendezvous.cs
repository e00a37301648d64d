namespace ShampooMkl.Tests.Optim;

/// <summary>Holds the first thread that starts a block until a second, different thread starts one, so a test can
/// rely on both the calling thread and a helper running blocks whatever the scheduling (on a busy 2-core machine either
/// side can otherwise drain the whole queue alone). Allocation-free after construction.</summary>
internal sealed class TwoThreadRendezvous
{
    private readonly Func<bool> met;
    private int firstThread;
    private int metFlag;

    public TwoThreadRendezvous() => met = () => Volatile.Read(ref metFlag) != 0;

    /// <summary>Whether two threads have arrived since the last <see cref="Reset"/>.</summary>
    public bool Met => met();

    /// <summary>Call when a block starts: the first thread waits (up to 20 s) for a second one.</summary>
    public void Arrive()
    {
        if (met())
        {
            return;
        }

        var id = Environment.CurrentManagedThreadId;
        var first = Interlocked.CompareExchange(ref firstThread, id, 0);
        if (first == 0 || first == id)
        {
            SpinWait.SpinUntil(met, TimeSpan.FromSeconds(20));
        }
        else
        {
            Volatile.Write(ref metFlag, 1);
        }
    }

    /// <summary>Starts over (between refreshes, when no block is running).</summary>
    public void Reset()
    {
        Volatile.Write(ref firstThread, 0);
        Volatile.Write(ref metFlag, 0);
    }
}
