using System.CommandLine;
using ShampooMkl.Cli.Commands;

// One line per command; each command lives in Commands/ and owns its options and rendering.
var root = new RootCommand("shampoo-mkl: Shampoo optimizers on CPU with Intel MKL / OpenBLAS.")
{
    GlobalOptions.Blas,
    DoctorCommand.Create(),
    TrainCommand.Create(),
    DemoCommand.Create(),
    AnalyzeCommand.Create(),
};

return GlobalOptions.Run(root, args);
