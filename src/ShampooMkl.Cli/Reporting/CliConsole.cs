using System.Collections;
using Spectre.Console;

namespace ShampooMkl.Cli.Reporting;

/// <summary>
/// Creates the console every command writes to. In a terminal: colours and the terminal's real width. Redirected
/// (a pipe, a file, a CI log): no wrapping at all, so a line reaches a log or <c>grep</c> whole. No ANSI escape codes when
/// the output is redirected, when <c>NO_COLOR</c> is set (https://no-color.org), or under an MPI launcher
/// (<c>OMPI_COMM_WORLD_RANK</c> or <c>PMI_RANK</c> present), whose ranks' output is collected into one log.
/// </summary>
internal static class CliConsole
{
    /// <summary>Width given to redirected output: wide enough that no real line folds.</summary>
    internal const int UnwrappedWidth = 32_767;

    private static readonly Lazy<IAnsiConsole> shared = new(() =>
        Create(Console.Out, Console.IsOutputRedirected, Environment.GetEnvironmentVariables()));

    /// <summary>The process's console, created once from the real stdout and environment.</summary>
    public static IAnsiConsole Shared => shared.Value;

    /// <summary>Creates a console on <paramref name="output"/>.</summary>
    /// <param name="output">Where the text goes.</param>
    /// <param name="redirected">True when stdout is not a terminal (<see cref="Console.IsOutputRedirected"/>).</param>
    /// <param name="environment">Environment variables consulted: <c>NO_COLOR</c>, <c>OMPI_COMM_WORLD_RANK</c>, <c>PMI_RANK</c>.</param>
    public static IAnsiConsole Create(TextWriter output, bool redirected, IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(environment);
        var plain = !AllowsAnsi(redirected, environment);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(output),
        });
        if (redirected)
        {
            console.Profile.Width = UnwrappedWidth;
        }

        return console;
    }

    /// <summary>True when escape codes may be written: a terminal, no <c>NO_COLOR</c>, not under an MPI launcher.</summary>
    internal static bool AllowsAnsi(bool redirected, IDictionary environment) =>
        !redirected && !WantsNoColor(environment) && !UnderMpi(environment);

    /// <summary>True when <c>NO_COLOR</c> is set to anything non-empty.</summary>
    internal static bool WantsNoColor(IDictionary environment) =>
        environment["NO_COLOR"] is string value && value.Length > 0;

    /// <summary>True when an MPI launcher started this process (Open MPI or an MPICH/PMI launcher).</summary>
    internal static bool UnderMpi(IDictionary environment) =>
        environment.Contains("OMPI_COMM_WORLD_RANK") || environment.Contains("PMI_RANK");
}
