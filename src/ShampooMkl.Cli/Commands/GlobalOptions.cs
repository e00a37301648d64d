using System.CommandLine;
using ShampooMkl.Cli.Diagnostics;
using ShampooMkl.Cli.Errors;
using ShampooMkl.Linalg;

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

    /// <summary><c>--verbose</c>: print the stack trace of user errors too (internal errors always print theirs).</summary>
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "On an error, also print its stack trace.",
        Recursive = true,
    };

    /// <summary>Parses, applies the global options, then runs the chosen command; returns the exit code
    /// (<see cref="ExitCodes"/>).</summary>
    /// <remarks>The backend is switched before any command runs, because the first BLAS call of a command
    /// would otherwise resolve the environment default and the flag would come too late. Parse errors are one line each
    /// with <see cref="ExitCodes.Usage"/>; every exception a command throws goes through <see cref="ErrorPolicy"/>.</remarks>
    public static int Run(RootCommand root, string[] args) => Run(root, args, Console.Out, Console.Error);

    /// <inheritdoc cref="Run(RootCommand, string[])"/>
    internal static int Run(RootCommand root, string[] args, TextWriter output, TextWriter error)
    {
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var parseError in parseResult.Errors)
            {
                error.WriteLine(ErrorPolicy.Prefix + parseError.Message);
            }

            var command = parseResult.CommandResult.Command;
            error.WriteLine($"Run 'shampoo-mkl{(command == root ? "" : " " + command.Name)} --help' for the options.");
            return ExitCodes.Usage;
        }

        var verbose = parseResult.GetValue(Verbose);
        try
        {
            if (parseResult.GetValue(Blas) is { } kind)
            {
                try
                {
                    BlasBackend.SetDefault(kind);
                }
                catch (NativeLoadException e)
                {
                    throw new UserInputException($"--blas {kind}: {e.Message.Split('\n')[0]} Run 'shampoo-mkl doctor' for every path tried.",
                        ExitCodes.Environment, e);
                }
            }

            return parseResult.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error });
        }
        catch (Exception e)
        {
            return ErrorPolicy.Report(e, error, verbose);
        }
    }
}
