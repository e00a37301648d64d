using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ShampooMkl.Tests.Distributed;

/// <summary>Two hosts on this machine for real multi-host MPI jobs: two network namespaces joined by a veth pair
/// (10.77.0.1 and 10.77.0.2), Open MPI's launcher reaching the "remote" one through <c>ip netns exec</c> instead of ssh.</summary>
/// <remarks>
/// <para>mpirun runs inside host A's namespace, with rank 0 beside it; for host B Open MPI calls its
/// <c>plm_rsh_agent</c>, here a script that runs the daemon's command line in B's namespace. Everything goes over TCP on
/// the veth (<c>btl tcp,self</c>, <c>btl_tcp_if_include</c> and <c>oob_tcp_if_include</c> the pair's subnet), so
/// <see cref="Cut"/> (<c>ip link set … down</c>) severs the two hosts as a pulled cable would.</para>
/// <para>Every rank runs under a wrapper that records, in the job's folder, its namespace, process id, stdout, stderr
/// and exit code (<c>rank-R.ns|pid|out|err|exit</c>): after a cut, host B's output can no longer reach mpirun. The
/// rank runs in a session of its own, so it ends by itself, never by the launcher's kill; <see cref="Dispose"/> ends
/// whatever is left.</para>
/// <para>Needs root and <c>ip</c> (iproute2, installed by native/provision.sh); CI runs as root. Namespace names
/// carry this process's id; leftovers of dead test processes are removed on start, and <see cref="Dispose"/> kills
/// whatever still runs inside the namespaces and deletes them.</para>
/// </remarks>
public sealed class NetworkNamespaceHosts : IDisposable
{
    /// <summary>Every namespace this fixture creates starts with this, then the creating process's id.</summary>
    public const string Prefix = "shampoo-mpi-";

    /// <summary>The veth pair's subnet, private to the two namespaces (so parallel runs cannot collide).</summary>
    public const string Subnet = "10.77.0.0/24";

    /// <summary>Host A's address (mpirun and rank 0).</summary>
    public const string AddressA = "10.77.0.1";

    /// <summary>Host B's address (rank 1, started through the launch agent).</summary>
    public const string AddressB = "10.77.0.2";

    /// <summary>The veth end inside host A.</summary>
    public const string LinkA = "veth-a";

    private const string LinkB = "veth-b";

    private readonly string agent;
    private readonly string wrapper;

    public NetworkNamespaceHosts()
    {
        RemoveLeftovers();
        var id = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Random.Shared.Next(0x10000):x4}");
        NamespaceA = $"{Prefix}{id}-a";
        NamespaceB = $"{Prefix}{id}-b";
        Folder = Directory.CreateTempSubdirectory("shampoo-multihost-").FullName;
        try
        {
            Ip("netns", "add", NamespaceA);
            Ip("netns", "add", NamespaceB);
            Ip("link", "add", LinkA, "netns", NamespaceA, "type", "veth", "peer", "name", LinkB, "netns", NamespaceB);
            Ip("-n", NamespaceA, "addr", "add", AddressA + "/24", "dev", LinkA);
            Ip("-n", NamespaceB, "addr", "add", AddressB + "/24", "dev", LinkB);
            foreach (var (ns, link) in new[] { (NamespaceA, LinkA), (NamespaceB, LinkB) })
            {
                Ip("-n", ns, "link", "set", "lo", "up");
                Ip("-n", ns, "link", "set", link, "up");
            }

            agent = WriteScript("rsh-agent.sh", $"""
                #!/bin/sh
                # Open MPI's plm_rsh_agent, called as: agent [ssh options] HOST COMMAND...; runs COMMAND in HOST's namespace.
                while [ $# -gt 0 ]; do case "$1" in -*) shift;; *) break;; esac; done
                host="$1"; shift
                case "$host" in
                  {AddressA}) ns={NamespaceA};;
                  {AddressB}) ns={NamespaceB};;
                  *) echo "rsh-agent: unknown host $host" >&2; exit 1;;
                esac
                exec ip netns exec "$ns" sh -c "$*"
                """);
            wrapper = WriteScript("rank.sh", """
                #!/bin/sh
                # rank.sh FOLDER COMMAND...: runs one rank, recording where it ran, its pid, output and exit code.
                # The recorder runs in a session of its own, so that the launcher killing this wrapper (or its process
                # group) when the job ends cannot keep it from writing the rank's own exit code; rank-R.exit appears
                # (atomically) only once the rank has ended.
                out="$1"; shift
                r="${OMPI_COMM_WORLD_RANK:-x}"
                ip netns identify $$ > "$out/rank-$r.ns"
                setsid sh -c '
                  out="$1"; r="$2"; shift 2
                  "$@" > "$out/rank-$r.out" 2> "$out/rank-$r.err" &
                  child=$!
                  echo "$child" > "$out/rank-$r.pid"
                  wait "$child"
                  echo $? > "$out/rank-$r.exit.partial"
                  mv "$out/rank-$r.exit.partial" "$out/rank-$r.exit"' recorder "$out" "$r" "$@" &
                recorder=$!
                trap '' TERM INT HUP
                wait "$recorder"
                exit "$(cat "$out/rank-$r.exit" 2>/dev/null || echo 1)"
                """);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Host A's namespace (mpirun, rank 0).</summary>
    public string NamespaceA { get; }

    /// <summary>Host B's namespace (rank 1).</summary>
    public string NamespaceB { get; }

    /// <summary>The fixture's temporary folder: the scripts and one sub-folder per job.</summary>
    public string Folder { get; }

    /// <summary>Starts <c>mpirun</c> in host A with one rank of <c>dotnet <paramref name="dll"/> <paramref name="args"/></c>
    /// on each host; <paramref name="environment"/> is exported to both ranks.</summary>
    public MultiHostJob Start(string name, IReadOnlyDictionary<string, string> environment, string dll, params string[] args)
    {
        var folder = Directory.CreateDirectory(Path.Combine(Folder, name)).FullName;
        var start = new ProcessStartInfo("ip");
        string[] mpirun =
        [
            "netns", "exec", NamespaceA, MpiJob.FindMpirun(), "--allow-run-as-root",
            "--host", $"{AddressA},{AddressB}", "-np", "2", "--map-by", "node",
            "--mca", "plm_rsh_agent", agent,
            "--mca", "btl", "tcp,self",
            "--mca", "btl_tcp_if_include", Subnet,
            "--mca", "oob_tcp_if_include", Subnet,
        ];
        foreach (var arg in mpirun)
        {
            start.ArgumentList.Add(arg);
        }

        var exported = new Dictionary<string, string>(environment) { ["TERM"] = "dumb" };
        foreach (var key in exported.Keys)
        {
            start.ArgumentList.Add("-x");
            start.ArgumentList.Add(key);
        }

        foreach (var arg in new[] { wrapper, folder, MpiJob.DotnetPath(), dll }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove(ShampooMkl.Distributed.Communicators.ModeVariable);
        foreach (var (key, value) in exported)
        {
            start.Environment[key] = value;
        }

        return new MultiHostJob(start, folder);
    }

    /// <summary>Takes host A's end of the link down: from now on no packet passes between the hosts.</summary>
    public void Cut() => Ip("-n", NamespaceA, "link", "set", LinkA, "down");

    /// <summary>Brings host A's end of the link back up.</summary>
    public void Restore() => Ip("-n", NamespaceA, "link", "set", LinkA, "up");

    /// <summary>Bytes host A has sent over the link so far.</summary>
    public long BytesSentByA()
    {
        using var json = JsonDocument.Parse(Ip("-n", NamespaceA, "-s", "-j", "link", "show", LinkA));
        return json.RootElement[0].GetProperty("stats64").GetProperty("tx").GetProperty("bytes").GetInt64();
    }

    /// <summary>Kills every process still running in the namespaces, deletes them (the veth pair goes with them) and the folder.</summary>
    public void Dispose()
    {
        foreach (var ns in new[] { NamespaceA, NamespaceB })
        {
            if (ns is not null)
            {
                Remove(ns);
            }
        }

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover folder in the temp directory is harmless.
        }
    }

    /// <summary>Removes namespaces left by test processes that died before their Dispose (names carry the pid).</summary>
    private static void RemoveLeftovers()
    {
        foreach (var line in Ip("netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ns = line.Split(' ')[0];
            if (!ns.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var owner = ns[Prefix.Length..].Split('-')[0];
            if (int.TryParse(owner, CultureInfo.InvariantCulture, out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                Remove(ns);
            }
        }
    }

    private static void Remove(string ns)
    {
        // Only processes inside our own namespaces are ended, each by its id.
        if (TryIp(out var pids, "netns", "pids", ns))
        {
            foreach (var pid in pids.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                try
                {
                    using var process = Process.GetProcessById(int.Parse(pid, CultureInfo.InvariantCulture));
                    process.Kill();
                    process.WaitForExit(5000);
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
                catch (InvalidOperationException)
                {
                }
            }
        }

        TryIp(out _, "netns", "del", ns);
    }

    private string WriteScript(string name, string text)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Network namespaces are Linux's; the multi-host MPI test runs on Linux (CI).");
        }

        var path = Path.Combine(Folder, name);
        File.WriteAllText(path, text.ReplaceLineEndings("\n") + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                   UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return path;
    }

    private static string Ip(params string[] args)
    {
        if (!TryIp(out var output, args))
        {
            throw new Xunit.Sdk.XunitException(
                $"`ip {string.Join(' ', args)}` failed: {output.Trim()}. The multi-host MPI test builds two hosts from network " +
                "namespaces and needs root and iproute2 (`bash native/provision.sh` installs it); CI runs as root.");
        }

        return output;
    }

    private static bool TryIp(out string output, params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            output = process.ExitCode == 0 ? stdout.Result : stderr + stdout.Result;
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            output = $"cannot run ip ({e.Message})";
            return false;
        }
    }
}
