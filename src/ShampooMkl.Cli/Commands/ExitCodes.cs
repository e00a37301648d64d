namespace ShampooMkl.Cli.Commands;

/// <summary>The exit codes of <c>shampoo-mkl</c>, as the README's "Exit codes" table documents them.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The command failed and said why: bad options, data, checkpoint or native libraries.</summary>
    public const int Failure = 1;

    /// <summary><c>train --distributed</c>: the ranks were started with different settings (or made mismatched
    /// collective calls); every rank printed the differences and stopped before any data was exchanged.</summary>
    public const int RanksDisagree = 3;

    /// <summary><c>train --distributed</c>: a collective got no answer within <c>SHAMPOO_MPI_TIMEOUT</c> (a rank or the
    /// network between the hosts is gone); the last complete checkpoint is kept.</summary>
    public const int RanksLost = 4;
}
