using Spectre.Console;

namespace ShampooMkl.Cli.Reporting;

/// <summary>Decides between live progress (a terminal) and one plain line per epoch (redirected output, CI logs).</summary>
internal static class ConsoleMode
{
    /// <summary>True when live rendering will be readable: an interactive terminal and not a CI run.</summary>
    public static bool IsLive(IAnsiConsole console)
    {
        // CI runners often allocate a pseudo-terminal, and redraws then fill the log with partial frames.
        if (IsTruthy(Environment.GetEnvironmentVariable("CI")))
        {
            return false;
        }

        return console.Profile.Capabilities.Interactive && console.Profile.Out.IsTerminal && !Console.IsOutputRedirected;
    }

    private static bool IsTruthy(string? value) =>
        !string.IsNullOrWhiteSpace(value) && !value.Equals("false", StringComparison.OrdinalIgnoreCase) && value != "0";

    /// <summary>Gives redirected output a wide canvas, so tables keep whole numbers and headers instead of folding at 80 columns.</summary>
    public static void WidenForLogs(IAnsiConsole console, int width = 160)
    {
        if (!console.Profile.Out.IsTerminal && console.Profile.Width < width)
        {
            console.Profile.Width = width;
        }
    }

    /// <summary>Writes an error: red in a terminal; verbatim in logs, where Spectre would fold long paths and commands mid-word.</summary>
    public static void WriteError(IAnsiConsole console, string message)
    {
        if (console.Profile.Out.IsTerminal)
        {
            console.MarkupLine($"[red]{Markup.Escape(message)}[/]");
        }
        else
        {
            console.Profile.Out.Writer.WriteLine(message);
            console.Profile.Out.Writer.Flush();
        }
    }
}
