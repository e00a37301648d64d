using System.Diagnostics;
using ShampooMkl.Cli.Commands;
using ShampooMkl.Cli.Errors;

namespace ShampooMkl.Tests.Cli;

/// <summary>The CLI's one error policy (issue #11, defects 7 and 9): a user's mistake is one line naming the input, with
/// a documented exit code and no stack trace; only our bugs print a trace.</summary>
public sealed class ErrorPolicyTests
{
    [Theory]
    [InlineData("--epochs", "train --epochs abc")]
    [InlineData("--lr", "train --lr abc")]
    [InlineData("--threads", "train --threads abc")]
    [InlineData("--epochs", "train --epochs 1.5")]
    [InlineData("--epochs", "train --epochs 99999999999")]
    [InlineData("--batch-size", "train --batch-size x")]
    [InlineData("--lr", "train --lr inf")]
    [InlineData("--lr", "train --lr 1e300")]
    [InlineData("--batch-size", "train --batch-size 2147483647")]
    [InlineData("--threads", "train --threads 100000")]
    [InlineData("--epochs", "demo --epochs abc")]
    [InlineData("--gemm-size", "doctor --gemm-size abc")]
    [InlineData("--steps", "analyze --steps x")]
    [InlineData("--tolerance", "analyze --tolerance nan")]
    public void BadOptionValue_IsOneUsageLineWithoutATrace(string option, string commandLine)
    {
        var (code, stderr) = RunInProcess(commandLine.Split(' '));

        Assert.Equal(ExitCodes.Usage, code);
        var first = stderr.Split('\n')[0];
        Assert.StartsWith(ErrorPolicy.Prefix, first);
        Assert.Contains(option, first);
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("Exception", stderr);
    }

    [Theory]
    [InlineData("train --epochs 1 --json /proc/shampoo-mkl-test.json", "--json")]
    [InlineData("train --epochs 1 --plot /tmp", "--plot")]
    [InlineData("analyze --gradients /nonexistent.npy --json /proc/nope/metrics.json", "--json")]
    public void UnwritableOutput_IsRefusedBeforeAnyWork(string commandLine, string option)
    {
        var (code, stderr) = RunInProcess(commandLine.Split(' '));

        Assert.Equal(ExitCodes.Files, code);
        Assert.StartsWith(ErrorPolicy.Prefix + option, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Theory]
    [InlineData("SHAMPOO_BLAS", "bogus", ExitCodes.Environment)]
    [InlineData("SHAMPOO_MKL_THREADING", "bogus", ExitCodes.Environment)]
    [InlineData("SHAMPOO_BLAS_PATH", "/nonexistent/libmkl_rt.so", ExitCodes.Environment)]
    [InlineData("SHAMPOO_MKL_DATA", "/etc/hostname", ExitCodes.Files)]
    public void BadEnvironment_IsOneLineNamingTheVariable(string variable, string value, int expected)
    {
        // A child process: these variables are process-wide and other tests run in parallel in this one.
        var (code, stderr) = RunChild(["train", "--epochs", "1"], (variable, value));

        Assert.Equal(expected, code);
        Assert.StartsWith(ErrorPolicy.Prefix, stderr);
        Assert.Contains(variable, stderr);
        Assert.Single(stderr.TrimEnd().Split('\n'));
    }

    [Fact]
    public void InternalError_PrintsTheTraceWithItsOwnCode()
    {
        using var stderr = new StringWriter();
        var code = ErrorPolicy.Report(Thrown(new NullReferenceException("boom")), stderr, verbose: false);

        Assert.Equal(ExitCodes.Internal, code);
        Assert.Contains("internal error", stderr.ToString());
        Assert.Contains("   at ", stderr.ToString());
    }

    [Fact]
    public void UserError_PrintsItsTraceOnlyWithVerbose()
    {
        using var quiet = new StringWriter();
        using var verbose = new StringWriter();
        var error = Thrown(new IOException("No space left on device"));

        Assert.Equal(ExitCodes.Files, ErrorPolicy.Report(error, quiet, verbose: false));
        Assert.Equal(ExitCodes.Files, ErrorPolicy.Report(error, verbose, verbose: true));
        Assert.DoesNotContain("   at ", quiet.ToString());
        Assert.Contains("   at ", verbose.ToString());
    }

    [Fact]
    public void RankPrefixedWriter_MarksEveryLine()
    {
        using var inner = new StringWriter();
        using (var writer = new RankPrefixedWriter(inner, 3))
        {
            writer.WriteLine("first");
            writer.Write("second");
        }

        Assert.Equal($"[rank 3] first{Environment.NewLine}[rank 3] second", inner.ToString());
    }

    private static (int Code, string Stderr) RunInProcess(string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = GlobalOptions.Run(CliRoot.Create(), args, stdout, stderr);
        return (code, stderr.ToString());
    }

    private static (int Code, string Stderr) RunChild(string[] args, (string Name, string Value) environment)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "shampoo-mkl.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(cli);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment[environment.Name] = environment.Value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "the CLI did not exit");
        return (process.ExitCode, stderr.Result);
    }

    private static Exception Thrown(Exception e)
    {
        try
        {
            throw e;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }
}
