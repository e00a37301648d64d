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
}
