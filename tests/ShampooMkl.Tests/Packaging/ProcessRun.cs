using System.Diagnostics;

namespace ShampooMkl.Tests.Packaging;

/// <summary>A finished child process: its exit code and both output streams.</summary>
internal sealed record ProcessRun(int ExitCode, string Output, string Error)
{
    /// <summary>Everything the process printed, for assertion messages.</summary>
    public string Transcript => $"exit code {ExitCode}{Environment.NewLine}{Output}{Environment.NewLine}{Error}";

    /// <summary>Runs <paramref name="file"/> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>,
    /// with <paramref name="environment"/> added to this process's environment, and waits for it (at most
    /// <paramref name="timeout"/>, then kills it and throws <see cref="TimeoutException"/>).</summary>
    public static ProcessRun Start(string file, IEnumerable<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }

        process.WaitForExit();
        return new ProcessRun(process.ExitCode, output.Result, error.Result);
    }
}
