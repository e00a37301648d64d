using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ShampooMkl.Tests.Distributed;

/// <summary>A running mpirun job of <see cref="NetworkNamespaceHosts"/>: mpirun's own output, and what each rank's
/// wrapper recorded in <see cref="Folder"/> (namespace, pid, stdout, stderr, exit code).</summary>
public sealed class MultiHostJob : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    internal MultiHostJob(ProcessStartInfo start, string folder)
    {
        Folder = folder;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Where the ranks' records are.</summary>
    public string Folder { get; }

    /// <summary>mpirun's exit code, once it has exited.</summary>
    public int ExitCode => process.ExitCode;

    /// <summary>Waits for mpirun; false if it still runs after <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            return false;
        }

        process.WaitForExit();
        return true;
    }

    /// <summary>Waits until rank <paramref name="rank"/>'s stdout contains <paramref name="text"/>; false after <paramref name="timeout"/>.</summary>
    public bool WaitForOutput(int rank, string text, TimeSpan timeout) => Poll(() => Stdout(rank).Contains(text, StringComparison.Ordinal), timeout);

    /// <summary>Waits until rank <paramref name="rank"/>'s process has ended and its exit code is recorded; false after <paramref name="timeout"/>.</summary>
    public bool WaitForRankToEnd(int rank, TimeSpan timeout) => Poll(() => RankExitCode(rank) is not null && !IsRunning(rank), timeout);

    /// <summary>The namespace rank <paramref name="rank"/> ran in (empty if it never started).</summary>
    public string Namespace(int rank) => Read($"rank-{rank}.ns").Trim();

    /// <summary>What rank <paramref name="rank"/> wrote to stdout.</summary>
    public string Stdout(int rank) => Read($"rank-{rank}.out");

    /// <summary>What rank <paramref name="rank"/> wrote to stderr.</summary>
    public string Stderr(int rank) => Read($"rank-{rank}.err");

    /// <summary>Rank <paramref name="rank"/>'s exit code as its wrapper saw it, or null if none was recorded.</summary>
    public int? RankExitCode(int rank) =>
        int.TryParse(Read($"rank-{rank}.exit").Trim(), CultureInfo.InvariantCulture, out var code) ? code : null;

    /// <summary>Everything recorded, for assertion messages.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        lock (output)
        {
            text.Append("--- mpirun ---").AppendLine().Append(output);
        }

        foreach (var rank in new[] { 0, 1 })
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- rank {rank} (namespace {Namespace(rank)}, exit {RankExitCode(rank)?.ToString(CultureInfo.InvariantCulture) ?? "not recorded"}) ---")
                .Append(Stdout(rank)).Append(Stderr(rank));
        }

        return text.ToString();
    }

    /// <summary>Kills mpirun and everything it started that is still its descendant.</summary>
    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }

        process.Dispose();
    }

    private bool IsRunning(int rank)
    {
        if (!int.TryParse(Read($"rank-{rank}.pid").Trim(), CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }

        // A zombie has ended: its /proc entry stays until the parent reaps it.
        var stat = $"/proc/{pid}/stat";
        try
        {
            var fields = File.ReadAllText(stat);
            return fields[(fields.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool Poll(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            Thread.Sleep(50);
        }

        return true;
    }

    private string Read(string name)
    {
        try
        {
            return File.ReadAllText(Path.Combine(Folder, name));
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }
}
