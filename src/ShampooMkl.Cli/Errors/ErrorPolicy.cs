using ShampooMkl.Analysis.Data;

namespace ShampooMkl.Cli.Errors;

/// <summary>The CLI's one error policy: what a failure prints and which exit code it returns.</summary>
/// <remarks>
/// A user's mistake — a bad value, path, variable, data file or environment — is one line naming the input and what
/// to do, with a code from <see cref="ExitCodes"/>; the stack trace only with <c>--verbose</c>. Anything else is our
/// bug: "internal error", the trace, and <see cref="ExitCodes.Internal"/>. The library's own exceptions carry messages
/// written for users (they name the path or option), so the policy classifies by type and prints the message.
/// </remarks>
internal static class ErrorPolicy
{
    /// <summary>Prefix of every error line.</summary>
    public const string Prefix = "shampoo-mkl: error: ";

    /// <summary>The exit code and the one-line text for <paramref name="error"/>.</summary>
    public static (int ExitCode, string Message) Classify(Exception error) => error switch
    {
        UserInputException e => (e.ExitCode, e.Message),
        NativeLoadException e => (ExitCodes.Environment,
            $"{FirstLine(e.Message)} {LastLine(e.Message)}"),
        MnistUnavailableException e => (ExitCodes.Failed, FirstLine(e.Message)),
        InvalidDataException e => (ExitCodes.Files, FirstLine(e.Message)),
        UnauthorizedAccessException e => (ExitCodes.Files, $"{FirstLine(e.Message)} Check the path's permissions or give another one."),
        IOException e => (ExitCodes.Files, FirstLine(e.Message)),
        OperationCanceledException => (ExitCodes.Interrupted, "interrupted; the last completed checkpoint, if any, is kept."),
        _ => (ExitCodes.Internal, $"internal error (a bug in shampoo-mkl; please report it with the trace below): {error.GetType().Name}: {error.Message}"),
    };

    /// <summary>Prints <paramref name="error"/> by the policy to <paramref name="stderr"/>; returns its exit code.</summary>
    public static int Report(Exception error, TextWriter stderr, bool verbose)
    {
        var (code, message) = Classify(error);
        stderr.WriteLine(Prefix + message);
        if (verbose || code == ExitCodes.Internal)
        {
            stderr.WriteLine(error.ToString());
        }

        return code;
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }

    /// <summary>The last line: a <see cref="NativeLoadException"/> ends with the install line for this OS.</summary>
    private static string LastLine(string text) => text.TrimEnd().Split('\n')[^1].Trim();
}
