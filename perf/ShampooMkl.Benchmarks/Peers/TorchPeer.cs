using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ShampooMkl.Benchmarks.Infrastructure;

namespace ShampooMkl.Benchmarks.Peers;

/// <summary>Runs perf/peers/torch_step.py with Debian's Python (not whichever python3 is first on PATH).</summary>
internal static class TorchPeer
{
    /// <summary>Debian's interpreter, whose site-packages hold python3-torch.</summary>
    public const string Python = "/usr/bin/python3";

    /// <summary>The probe's JSON when torch imports, else null with the reason.</summary>
    public static JsonObject? Probe(out string reason)
    {
        if (!File.Exists(Python))
        {
            reason = $"{Python} not found (the torch peer needs Debian's python3 and python3-torch)";
            return null;
        }

        var (code, output, error) = Run(["--probe"], TimeSpan.FromMinutes(2));
        var json = TryParse(output);
        if (code == 0 && json?["available"]?.GetValue<bool>() == true)
        {
            reason = "";
            return json;
        }

        reason = json?["reason"]?.GetValue<string>() ?? $"probe exited {code}: {error.Trim()}";
        return null;
    }

    /// <summary>Times the peer on a data folder written by <see cref="PeerData"/>; optionally writes its 2-step weights.</summary>
    public static JsonObject Measure(string dataFolder, int steadySteps, int refreshSteps, int warmup, string? checkOut)
    {
        var args = new List<string>
        {
            "--data", dataFolder, "--steady-steps", steadySteps.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--refresh-steps", refreshSteps.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--warmup", warmup.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (checkOut is not null)
        {
            args.AddRange(["--check-out", checkOut]);
        }

        var (code, output, error) = Run(args, TimeSpan.FromMinutes(30));
        return code == 0 && TryParse(output) is { } json
            ? json
            : throw new InvalidOperationException($"torch_step.py exited {code}: {error.Trim()}");
    }

    private static (int Code, string Output, string Error) Run(IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(RepoPaths.TorchScript);
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        // A pyenv or virtualenv on the caller's PATH must not leak its modules into Debian's interpreter.
        start.Environment.Remove("PYTHONPATH");
        start.Environment.Remove("PYTHONHOME");
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Python}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "", $"timed out after {timeout}");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static JsonObject? TryParse(string output)
    {
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        if (line is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
