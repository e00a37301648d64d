namespace ShampooMkl.Cli.Errors;

/// <summary>The exit codes of <c>shampoo-mkl</c>, documented in the README ("Exit codes"); scripts may rely on them.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Success = 0;

    /// <summary>The command ran and reports a failure it explained (a failed check, MNIST unavailable, diverged runs).</summary>
    public const int Failed = 1;

    /// <summary>Usage: an unknown option, a value that does not parse or is out of range, options that do not go together.</summary>
    public const int Usage = 2;

    /// <summary>Environment: no usable native library, a bad <c>SHAMPOO_*</c> variable, a runtime that cannot load.</summary>
    public const int Environment = 3;

    /// <summary>Files: an input that is missing, damaged or not a regular file; an output or checkpoint folder that is
    /// not writable, full or in use.</summary>
    public const int Files = 4;

    /// <summary>Distributed: the ranks of an mpirun job disagree (model, options, plan) or one of them failed.</summary>
    public const int Ranks = 5;

    /// <summary>An internal error: a bug in shampoo-mkl; the stack trace is printed to be reported.</summary>
    public const int Internal = 70;

    /// <summary>Interrupted (Ctrl+C); the last completed checkpoint is kept.</summary>
    public const int Interrupted = 130;
}
