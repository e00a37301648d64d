using ShampooMkl.Optim;

namespace ShampooMkl.Distributed;

/// <summary>Chooses the communicator for the current process: MPI under mpirun, a single process otherwise.</summary>
public static class Communicators
{
    /// <summary>Environment variable overriding the choice: <c>mpi</c>, <c>single</c> or <c>auto</c> (the default).</summary>
    /// <remarks><c>mpi</c> is for launchers other than mpirun (e.g. srun with PMIx), which do not set
    /// <see cref="MpiCommunicator.WorldSizeVariable"/>.</remarks>
    public const string ModeVariable = "SHAMPOO_COMMUNICATOR";

    /// <summary>Returns <see cref="MpiCommunicator.Create()"/> when launched by mpirun (or forced), else a <see cref="SingleProcessCommunicator"/>.</summary>
    /// <exception cref="ArgumentException"><see cref="ModeVariable"/> holds an unknown value.</exception>
    public static ICommunicator FromEnvironment() =>
        UseMpi(Environment.GetEnvironmentVariable(ModeVariable), MpiCommunicator.IsLaunchedByMpirun)
            ? MpiCommunicator.Create()
            : new SingleProcessCommunicator();

    /// <summary>The decision <see cref="FromEnvironment"/> makes, separated so it can be tested without MPI.</summary>
    internal static bool UseMpi(string? mode, bool launchedByMpirun) => mode?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => launchedByMpirun,
        "mpi" => true,
        "single" => false,
        _ => throw new ArgumentException($"Unknown communicator '{mode}'; use mpi, single or auto ({ModeVariable}).", nameof(mode)),
    };
}
