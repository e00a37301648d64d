namespace ShampooMkl.Distributed;

/// <summary>Thrown on every rank by <see cref="RankAgreement.Verify"/> when the ranks were started with different
/// settings; the message names each differing setting and every rank's value, in one line.</summary>
public sealed class RankMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception for the differing <paramref name="settings"/> with a one-line <paramref name="message"/>.</summary>
    public RankMismatchException(IReadOnlyList<string> settings, string message)
        : base(message)
    {
        Settings = settings;
    }

    /// <summary>The names of the settings that differ, in the order they were given.</summary>
    public IReadOnlyList<string> Settings { get; }
}
