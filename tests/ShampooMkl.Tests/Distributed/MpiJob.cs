using System.Diagnostics;
using System.Reflection;
using System.Text;
using ShampooMkl.Distributed;
using ShampooMkl.Native;

namespace ShampooMkl.Tests.Distributed;

/// <summary>Runs tests/ShampooMkl.MpiHost under mpirun (or alone) and captures what every rank printed.</summary>
/// <remarks>
/// The host is found next to this test assembly's build, same configuration and framework, because the test
/// project does not reference it: building the solution builds both. A missing mpirun or host is a failure with
/// the fix in the message, never a skip: every machine is provisioned with Open MPI.
/// </remarks>
public static class MpiJob
{
    /// <summary>Environment variable naming the host DLL explicitly (e.g. for an out-of-tree build).</summary>
    public const string HostVariable = "SHAMPOO_MPI_HOST";

    /// <summary>Long enough for N cold .NET start-ups on a loaded CI box; short enough that a hang fails the run.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The mpirun options every job uses: root is allowed (CI containers run as root), more ranks than cores are
    /// allowed (2-core machines), and transports are limited to shared memory and loopback-capable TCP so that
    /// a machine without a network still works.
    /// </summary>
    public static readonly IReadOnlyList<string> MpirunOptions =
        ["--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader,tcp"];

    private static readonly Lazy<string> HostPath = new(FindHost);

    /// <summary>Runs <c>mpirun -np <paramref name="ranks"/> dotnet ShampooMkl.MpiHost.dll args...</c>.</summary>
    public static JobResult Run(int ranks, params string[] args) => Run(ranks, DefaultTimeout, args);

    /// <summary>As <see cref="Run(int, string[])"/> with an explicit timeout, after which the job is killed and the test fails.</summary>
    public static JobResult Run(int ranks, TimeSpan timeout, params string[] args) =>
        Run(ranks, timeout, new Dictionary<string, string>(), args);

    /// <summary>As <see cref="Run(int, TimeSpan, string[])"/>, with extra environment variables exported to every rank.</summary>
    public static JobResult Run(int ranks, TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunMpmd(timeout, environment, new MpiApp(ranks, HostPath.Value, args));

    /// <summary>Runs one mpirun job of several applications (MPMD: <c>mpirun -np 1 dotnet A … : -np 1 dotnet B …</c>),
    /// ranks numbered in the order given; killed (and failed) after <paramref name="timeout"/>.</summary>
    public static JobResult RunMpmd(TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params MpiApp[] apps)
    {
        var start = new ProcessStartInfo(FindMpirun());
        foreach (var option in MpirunOptions)
        {
            start.ArgumentList.Add(option);
        }

        foreach (var name in environment.Keys)
        {
            // Local ranks inherit mpirun's environment; -x also carries it to ranks on other nodes.
            start.ArgumentList.Add("-x");
            start.ArgumentList.Add(name);
        }

        for (var i = 0; i < apps.Length; i++)
        {
            if (i > 0)
            {
                start.ArgumentList.Add(":");
            }

            start.ArgumentList.Add("-np");
            start.ArgumentList.Add(apps[i].Ranks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            start.ArgumentList.Add(DotnetPath());
            start.ArgumentList.Add(apps[i].Dll);
            foreach (var arg in apps[i].Args)
            {
                start.ArgumentList.Add(arg);
            }
        }

        SetEnvironment(start, environment);
        return Execute(start, timeout);
    }

    /// <summary>The MPI test host (a staged copy with the library under test), for <see cref="MpiApp"/>.</summary>
    public static string Host => HostPath.Value;

    /// <summary>The <c>shampoo-mkl</c> CLI built beside these tests (the test project references it, so it runs
    /// against the very libraries under test).</summary>
    public static string Cli
    {
        get
        {
            var cli = Path.Combine(AppContext.BaseDirectory, "shampoo-mkl.dll");
            return File.Exists(cli) ? cli : throw new Xunit.Sdk.XunitException($"The CLI {cli} is not built beside the tests; build the solution first.");
        }
    }

    /// <summary>Runs the host as a plain process (no mpirun).</summary>
    public static JobResult RunAlone(params string[] args) => RunAlone(new Dictionary<string, string>(), args);

    /// <summary>Runs the host as a plain process (no mpirun), with extra environment variables.</summary>
    public static JobResult RunAlone(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(DotnetPath());
        start.ArgumentList.Add(HostPath.Value);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        SetEnvironment(start, environment);
        return Execute(start, DefaultTimeout);
    }

    private static void SetEnvironment(ProcessStartInfo start, IReadOnlyDictionary<string, string> environment)
    {
        // A developer's override must not turn a single-process run into MPI or the reverse; tests set it explicitly.
        start.Environment.Remove(Communicators.ModeVariable);

        // mpirun gives each rank a pseudo-terminal, on which .NET writes terminal-mode escapes into the output.
        start.Environment["TERM"] = "dumb";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
    }

    private static JobResult Execute(ProcessStartInfo start, TimeSpan timeout)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        var clock = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"The job did not finish within {timeout.TotalSeconds} s and was killed.{Environment.NewLine}" +
                        Describe(start, -1, clock.Elapsed, stdout, stderr));
        }

        // The parameterless wait also drains the asynchronous output readers.
        process.WaitForExit();
        clock.Stop();
        var result = new JobResult(process.ExitCode, Lock(stdout), Lock(stderr), clock.Elapsed, string.Empty);
        return result with { Description = Describe(start, result.ExitCode, result.Elapsed, stdout, stderr) };
    }

    private static void Append(StringBuilder sink, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (sink)
        {
            sink.AppendLine(line);
        }
    }

    private static string Lock(StringBuilder sink)
    {
        lock (sink)
        {
            return sink.ToString();
        }
    }

    private static string Describe(ProcessStartInfo start, int exitCode, TimeSpan elapsed, StringBuilder stdout, StringBuilder stderr) =>
        $"command: {start.FileName} {string.Join(' ', start.ArgumentList)}{Environment.NewLine}" +
        $"exit code: {exitCode}, elapsed: {elapsed.TotalSeconds:F1} s{Environment.NewLine}" +
        $"--- stdout ---{Environment.NewLine}{Lock(stdout)}--- stderr ---{Environment.NewLine}{Lock(stderr)}";

    /// <summary>mpirun from PATH; its absence fails the test with the provisioning command.</summary>
    public static string FindMpirun() =>
        FindOnPath("mpirun") ?? throw new Xunit.Sdk.XunitException(
            "mpirun is not on PATH, so the MPI integration tests cannot run. " + MpiLibrary.InstallHint);

    /// <summary>The dotnet executable running these tests, so the host runs on the same runtime.</summary>
    public static string DotnetPath()
    {
        // Set by the .NET SDK for processes it starts (dotnet test included).
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        return FindOnPath("dotnet") ?? throw new Xunit.Sdk.XunitException("Cannot find the dotnet executable (DOTNET_HOST_PATH unset, not on PATH).");
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Finds tests/ShampooMkl.MpiHost/bin/&lt;configuration&gt;/&lt;tfm&gt;/ShampooMkl.MpiHost.dll and returns a staged copy of it.</summary>
    public static string FindHost()
    {
        var configuration = typeof(MpiJob).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var baseDirectory = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory);
        var framework = Path.GetFileName(baseDirectory);
        var build = $"dotnet build ShampooMkl.sln -c {configuration}";

        string host;
        var explicitPath = Environment.GetEnvironmentVariable(HostVariable);
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            host = explicitPath;
        }
        else
        {
            // Walk up to the tests folder (bin/<configuration>/<tfm> below the test project, whatever the nesting).
            var dir = new DirectoryInfo(baseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ShampooMkl.MpiHost", "ShampooMkl.MpiHost.csproj")))
            {
                dir = dir.Parent;
            }

            if (dir is null)
            {
                throw new Xunit.Sdk.XunitException(
                    $"No ShampooMkl.MpiHost project above {baseDirectory}; set {HostVariable} to the host DLL.");
            }

            host = Path.Combine(dir.FullName, "ShampooMkl.MpiHost", "bin", configuration, framework, "ShampooMkl.MpiHost.dll");
        }

        if (!File.Exists(host))
        {
            throw new Xunit.Sdk.XunitException($"The MPI test host {host} is not built. Build the solution first: {build}");
        }

        return StageWithOurLibrary(host);
    }

    /// <summary>Copies the host's build output to a temporary folder and replaces its ShampooMkl.dll and ShampooMkl.Analysis.dll with ours.</summary>
    /// <remarks>The host's own copy of the library can be older than the one these tests loaded (only the test
    /// project was rebuilt, or another build ran in the same tree meanwhile); the jobs must exercise the library
    /// under test. The host's code is compiled against the same public API, so a break there fails loudly.</remarks>
    private static string StageWithOurLibrary(string host)
    {
        var stage = Directory.CreateTempSubdirectory("shampoo-mpihost-").FullName;
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(host)!))
        {
            File.Copy(file, Path.Combine(stage, Path.GetFileName(file)));
        }

        foreach (var library in new[] { typeof(MpiCommunicator).Assembly.Location, typeof(Analysis.Models.Mlp).Assembly.Location })
        {
            foreach (var file in new[] { library, Path.ChangeExtension(library, ".pdb") })
            {
                if (File.Exists(file))
                {
                    File.Copy(file, Path.Combine(stage, Path.GetFileName(file)), overwrite: true);
                }
            }
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(stage, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover folder in the temp directory is harmless.
            }
            catch (UnauthorizedAccessException)
            {
            }
        };

        return Path.Combine(stage, Path.GetFileName(host));
    }
}

/// <summary>What an MPI job printed and how it ended; <see cref="Description"/> goes into assertion messages.</summary>
public sealed record JobResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, string Description)
{
    /// <summary>Fails with the whole job output unless the job exited 0 and stdout has <paramref name="line"/>.</summary>
    public void AssertSucceededWith(string line)
    {
        Assert.True(ExitCode == 0, $"Expected exit code 0.{Environment.NewLine}{Description}");
        Assert.True(Stdout.Contains(line, StringComparison.Ordinal), $"Expected stdout to contain '{line}'.{Environment.NewLine}{Description}");
    }
}
