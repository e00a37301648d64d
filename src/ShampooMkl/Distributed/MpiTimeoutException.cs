using System.Globalization;

namespace ShampooMkl.Distributed;

/// <summary>Thrown when a collective did not complete within <see cref="MpiCommunicator.CollectiveTimeout"/>: another
/// rank stopped taking part (it hangs, or the network between the hosts is gone).</summary>
/// <remarks>The communicator that threw refuses every later call and will not finalise MPI; the process should report
/// and exit (the other ranks time out alike, or mpirun ends them).</remarks>
public sealed class MpiTimeoutException : TimeoutException
{
    /// <summary>Creates the exception for rank <paramref name="rank"/> of <paramref name="size"/>, waiting in <paramref name="function"/>.</summary>
    public MpiTimeoutException(string function, int rank, int size, TimeSpan timeout)
        : base(string.Create(CultureInfo.InvariantCulture,
            $"Rank {rank} of {size} waited {timeout.TotalSeconds:0.###} s in {function} without hearing from the other ranks: " +
            $"a rank or the network between the hosts is gone ({MpiCommunicator.TimeoutVariable} sets the limit)."))
    {
        Function = function;
        Rank = rank;
        Timeout = timeout;
    }

    /// <summary>The collective that timed out.</summary>
    public string Function { get; }

    /// <summary>The rank that gave up waiting.</summary>
    public int Rank { get; }

    /// <summary>How long it waited.</summary>
    public TimeSpan Timeout { get; }
}
