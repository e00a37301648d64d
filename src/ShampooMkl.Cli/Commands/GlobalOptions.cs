using System.CommandLine;
using ShampooMkl.Cli.Diagnostics;
using ShampooMkl.Linalg;
using Spectre.Console;

namespace ShampooMkl.Cli.Commands;

/// <summary>Options every command accepts, and the single place where they take effect.</summary>
internal static class GlobalOptions
{
    /// <summary><c>--blas mkl|openblas</c>: the process-wide default backend, overriding <c>SHAMPOO_BLAS</c>.</summary>
    public static readonly Option<BlasBackendKind?> Blas = new("--blas")
    {
        Description = "BLAS/LAPACK backend for this run (overrides SHAMPOO_BLAS).",
        HelpName = "mkl|openblas",
        Recursive = true,
        CustomParser = result =>
        {
            // Reuse the library's parser so the flag and the environment variable accept exactly the same words.
            try
            {
                return BlasBackend.ParseKind(result.Tokens[^1].Value);
            }
            catch (ArgumentException e)
            {
                result.AddError(NativeDiagnosticsText.WithoutParameterName(e));
                return null;
            }
        },
    };

    /// <summary>Parses, applies the global options, then runs the chosen command; returns the exit code.</summary>
    /// <remarks>The backend is switched before any command runs, because the first BLAS call of a command
    /// would otherwise resolve the environment default and the flag would come too late.</remarks>
    public static int Run(RootCommand root, string[] args)
    {
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count == 0 && parseResult.GetValue(Blas) is { } kind)
        {
            try
            {
                BlasBackend.SetDefault(kind);
            }
            catch (NativeLoadException e)
            {
                AnsiConsole.MarkupLine($"[red]--blas {Markup.Escape(kind.ToString())}: {Markup.Escape(e.Message)}[/]");
                return 1;
            }
        }

        return parseResult.Invoke();
    }
}
