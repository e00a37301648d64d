using System.CommandLine;

namespace ShampooMkl.Cli.Commands;

/// <summary>The <c>shampoo-mkl</c> command tree: the global options and one command per file in Commands/.</summary>
internal static class CliRoot
{
    /// <summary>Builds the root command (the program runs it through <see cref="GlobalOptions.Run(RootCommand, string[])"/>).</summary>
    public static RootCommand Create() => new("shampoo-mkl: Shampoo optimizers on CPU with Intel MKL / OpenBLAS.")
    {
        GlobalOptions.Blas,
        GlobalOptions.Verbose,
        DoctorCommand.Create(),
        TrainCommand.Create(),
        DemoCommand.Create(),
        AnalyzeCommand.Create(),
    };
}
