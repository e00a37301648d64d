namespace ShampooMkl.Cli.Errors;

/// <summary>A user's mistake found by the CLI itself (a path, a variable, a combination of inputs): printed as its one-line
/// message with <see cref="ExitCode"/>, never as a stack trace.</summary>
internal sealed class UserInputException(string message, int exitCode, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>One of <see cref="ExitCodes"/>.</summary>
    public int ExitCode { get; } = exitCode;
}
