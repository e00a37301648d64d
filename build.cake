// ShampooMkl build (Cake 7 scripting, run through ./build.sh or `dotnet cake build.cake`).
//
//   ./build.sh                      Default = Test: Build -> Native -> Pack -> Test
//   ./build.sh --target=Test --fast skips tests tagged [Trait("Category", "Slow")] or "Mpi" (inner loop, seconds)
//   ./build.sh --target=Test --test-filter='FullyQualifiedName~Blocking'   any `dotnet test --filter` expression
//   ./build.sh --target=Native      native libraries + `shampoo-mkl doctor` only
//   ./build.sh --target=Pack        packages (library, TorchSharp adapter, the shampoo-mkl tool) into artifacts/packages,
//                                   no tests; the Test target packs too, for the package tests
//   ./build.sh --target=ApiBaseline regenerates src/*/PublicAPI.Unshipped.txt (scripts/update-public-api.sh)
//   ./build.sh --target=Bench       BenchmarkDotNet suites + roofline + peer table (torch, Math.NET)
//                                   (--bench-filter='*' --bench-job=short --bench-peers=true --skip-torch)
//   ./build.sh --target=PerfCompare short regression gate against perf/baselines/<rid>.json
//                                   (--update-baseline rewrites it; --perf-threshold=0.25)
//   ./build.sh --target=Demo
//   ./build.sh --configuration=Debug
//
// Native libraries are provisioned by build.sh (native/provision.sh) before Cake starts, because
// installing them needs root and apt, which do not belong inside a build script.

using System.Xml.Linq;

var target = Argument("target", "Default");
var configuration = Argument("configuration", "Release");
var benchFilter = Argument("bench-filter", "*");
var benchJob = Argument("bench-job", "short");
var benchPeers = Argument("bench-peers", true);
var skipTorch = HasArgument("skip-torch");
var updateBaseline = HasArgument("update-baseline");
var perfThreshold = Argument<string?>("perf-threshold", null);
// Inner loop: --fast leaves out the Slow and Mpi categories; --test-filter passes any expression to dotnet test
// (both given: they are combined with &). CI passes neither and runs everything.
const string fastFilter = "Category!=Slow&Category!=Mpi";
var fastTests = HasArgument("fast") && !string.Equals(Argument("fast", "true"), "false", StringComparison.OrdinalIgnoreCase);
var rawTestFilter = Argument<string?>("test-filter", null);
var testFilter = string.Join("&", new[] { fastTests ? fastFilter : null, rawTestFilter }
    .Where(f => !string.IsNullOrWhiteSpace(f))
    .Select(f => rawTestFilter is not null && fastTests ? $"({f})" : f));

var root = MakeAbsolute(Directory("."));
var artifacts = root.Combine("artifacts");
var testResults = artifacts.Combine("test-results");
var packages = artifacts.Combine("packages");
var solution = root.CombineWithFilePath("ShampooMkl.sln");
var cliProject = root.CombineWithFilePath("src/ShampooMkl.Cli/ShampooMkl.Cli.csproj");
var testProject = root.CombineWithFilePath("tests/ShampooMkl.Tests/ShampooMkl.Tests.csproj");
var torchTestProject = root.CombineWithFilePath("tests/ShampooMkl.TorchSharp.Tests/ShampooMkl.TorchSharp.Tests.csproj");
var benchProject = root.CombineWithFilePath("perf/ShampooMkl.Benchmarks/ShampooMkl.Benchmarks.csproj");
var libraryProject = root.CombineWithFilePath("src/ShampooMkl/ShampooMkl.csproj");
var torchSharpProject = root.CombineWithFilePath("src/ShampooMkl.TorchSharp/ShampooMkl.TorchSharp.csproj");

Setup(_ => EnsureDirectoryExists(artifacts));

// Cake's own failure text for a tool is ".NET CLI: Process returned an error (exit code 1)", which
// says nothing about what to do; every external step goes through here to say what failed and why.
void Step(string what, string advice, Action action)
{
    try
    {
        action();
    }
    catch (Exception e)
    {
        throw new CakeException($"{what} failed: {e.Message}{Environment.NewLine}  {advice}");
    }
}

// `dotnet run --project P -c C --no-build -- ARGS` for an already built project.
void RunProject(FilePath project, string arguments, bool noBuild = true)
{
    DotNetRun(project.FullPath, new ProcessArgumentBuilder().Append(arguments), new DotNetRunSettings
    {
        Configuration = configuration,
        NoBuild = noBuild,
        NoRestore = noBuild,
    });
}

Task("Clean")
    .Description("Deletes artifacts/ and every bin/ and obj/ folder.")
    .Does(() =>
{
    CleanDirectory(artifacts);
    foreach (var pattern in new[] { "./src/**/bin", "./src/**/obj", "./tests/**/bin", "./tests/**/obj", "./perf/**/bin", "./perf/**/obj" })
    {
        CleanDirectories(pattern);
    }
});

Task("Build")
    .Description("Builds the whole solution.")
    .Does(() =>
{
    Step("dotnet build", "The compiler errors are listed above.",
        () => DotNetBuild(solution.FullPath, new DotNetBuildSettings { Configuration = configuration }));
});

Task("Native")
    .Description("Checks the native libraries' exported symbols, then runs `shampoo-mkl doctor`.")
    .IsDependentOn("Build")
    .Does(() =>
{
    // Build-time check from the manifests: fails on a missing library or symbol with the fix.
    var bash = Context.Tools.Resolve("bash");
    if (bash is null)
    {
        Warning("bash not found: skipping native/check-symbols.sh (the doctor below still checks at run time).");
    }
    else
    {
        var exitCode = StartProcess(bash, new ProcessSettings
        {
            Arguments = new ProcessArgumentBuilder().Append("native/check-symbols.sh"),
            WorkingDirectory = root,
        });
        if (exitCode != 0)
        {
            throw new CakeException(
                $"native/check-symbols.sh failed (exit code {exitCode}): a native library or symbol is missing (see above)."
                + $"{Environment.NewLine}  Fix: bash native/provision.sh, then rerun the build.");
        }
    }

    // Run-time check through the real P/Invoke path: loads each backend and calls into it.
    var report = artifacts.CombineWithFilePath("doctor.json");
    Step("shampoo-mkl doctor",
        $"The native libraries did not load or misbehaved; details are above and in {report}.",
        () => RunProject(cliProject, $"doctor --json {report.FullPath.Quote()}"));
});

Task("Test")
    .Description("Runs the xunit tests (after the native check and Pack, whose packages the package tests install), the TorchSharp tests under the runtime they need; TRX goes to artifacts/test-results; --fast, --test-filter=EXPR.")
    .IsDependentOn("Native")
    .IsDependentOn("Pack")
    .Does(() =>
{
    if (!string.IsNullOrEmpty(testFilter))
    {
        Information($"Test filter: {testFilter}");
    }

    EnsureDirectoryExists(testResults);
    var runs = new[]
    {
        (Project: testProject, Trx: testResults.CombineWithFilePath("ShampooMkl.Tests.trx"), Torch: false),
        (Project: torchTestProject, Trx: testResults.CombineWithFilePath("ShampooMkl.TorchSharp.Tests.trx"), Torch: true),
    };
    foreach (var run in runs)
    {
        if (FileExists(run.Trx))
        {
            DeleteFile(run.Trx); // a stale file would make the summary below lie
        }
    }

    // Both projects run even when the first fails, so one CI log shows every failure.
    var failures = new List<string>();
    try
    {
        foreach (var run in runs)
        {
            try
            {
                var runSettings = run.Torch ? PrepareTorchRuntime() : null;
                Step($"dotnet test {run.Project.GetFilenameWithoutExtension()}",
                    $"Failed tests are listed above; full results in {run.Trx}.",
                    () => DotNetTest(run.Project.FullPath, new DotNetTestSettings
                    {
                        Configuration = configuration,
                        NoBuild = true,
                        NoRestore = true,
                        ResultsDirectory = testResults,
                        Filter = string.IsNullOrEmpty(testFilter) ? null : testFilter,
                        Settings = runSettings,
                        Loggers = new List<string> { "console;verbosity=normal", $"trx;LogFileName={run.Trx.GetFilename()}" },
                    }));
            }
            catch (CakeException e)
            {
                Error(e.Message);
                failures.Add(e.Message);
            }
        }
    }
    finally
    {
        PrintTestSummary(runs.Select(r => r.Trx).ToArray());
    }

    if (failures.Count > 0)
    {
        throw new CakeException(string.Join(Environment.NewLine, failures));
    }
});

// TorchSharp 0.107's natives need glibc 2.38 and GCC 13's libstdc++. native/torch-runtime.sh checks the system's
// own loader against the built libLibTorchSharp.so: where it resolves everything, the tests run natively (null);
// otherwise it provisions a Debian 13 runtime outside git (it says so in one line) and the tests' host processes run
// through a copy of the dotnet host that uses it, via a runsettings file. Only the test host sees the newer
// libraries: `dotnet test` itself and every other process keep the system's.
FilePath? PrepareTorchRuntime()
{
    if (!IsRunningOnLinux())
    {
        return null;
    }

    var native = torchTestProject.GetDirectory()
        .Combine($"bin/{configuration}/net10.0/runtimes/linux-x64/native").CombineWithFilePath("libLibTorchSharp.so");
    if (!FileExists(native))
    {
        throw new CakeException($"TorchSharp tests: {native} is missing; the Build target restores and copies it (./build.sh --target=Build).");
    }

    var exitCode = StartProcess("bash", new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder().Append("native/torch-runtime.sh").Append("--print-env").AppendQuoted(native.FullPath),
        WorkingDirectory = root,
        RedirectStandardOutput = true,
    }, out var output);
    if (exitCode != 0)
    {
        throw new CakeException($"native/torch-runtime.sh failed (exit code {exitCode}): TorchSharp's native libraries cannot be loaded here (reason above).");
    }

    var env = output.Select(line => line.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);
    var host = env.GetValueOrDefault("SHAMPOO_TORCH_DOTNET", "");
    var libraryPath = env.GetValueOrDefault("SHAMPOO_TORCH_LD_LIBRARY_PATH", "");
    if (libraryPath.Length == 0 || libraryPath == "''")
    {
        return null;
    }

    if (new[] { host, libraryPath }.Any(v => v.IndexOfAny(new[] { '\\', '\'', '"', ' ' }) >= 0))
    {
        throw new CakeException($"native/torch-runtime.sh: the runtime's path needs shell quoting ({host}); set SHAMPOO_CACHE to a plain path.");
    }

    var settings = artifacts.CombineWithFilePath("torch-runtime.runsettings");
    new XDocument(new XElement("RunSettings", new XElement("RunConfiguration",
        new XElement("DotNetHostPath", host),
        new XElement("EnvironmentVariables",
            new XElement("LD_LIBRARY_PATH", libraryPath),
            new XElement("DOTNET_ROOT", System.IO.Path.GetDirectoryName(host)))))).Save(settings.FullPath);
    return settings;
}

// One plain "N passed, N failed, N skipped" line, the same on every runner version, read from the
// TRX files rather than scraped from console output; one line per project before it.
void PrintTestSummary(FilePath[] trxFiles)
{
    var ns = XNamespace.Get("http://microsoft.com/schemas/VisualStudio/TeamTest/2010");
    int passed = 0, failed = 0, skipped = 0;
    foreach (var trx in trxFiles)
    {
        if (!FileExists(trx))
        {
            Warning($"No test results at {trx}: that test run did not start.");
            failed++;
            continue;
        }

        var counters = XDocument.Load(trx.FullPath).Descendants(ns + "Counters").FirstOrDefault();
        if (counters is null)
        {
            Warning($"{trx} has no counters.");
            failed++;
            continue;
        }

        int Count(string name) => int.TryParse(counters.Attribute(name)?.Value, out var n) ? n : 0;
        var total = Count("total");
        var p = Count("passed");
        var f = Count("failed") + Count("error") + Count("timeout") + Count("aborted");
        var s = Math.Max(0, total - Count("executed"));
        Console.WriteLine($"  {trx.GetFilenameWithoutExtension()}: {p} passed, {f} failed, {s} skipped");
        if (total == 0 && string.IsNullOrEmpty(testFilter))
        {
            Warning($"No tests were discovered in {trx.GetFilenameWithoutExtension()}.");
        }

        passed += p;
        failed += f;
        skipped += s;
    }

    // Plain Console: Cake 7 colours interpolated values, which would split the line for log parsers.
    Console.WriteLine($"Tests: {passed} passed, {failed} failed, {skipped} skipped");
}

// The torch peer is a measurement, not a test: install Debian's python3-torch when this machine allows it (root and
// apt), otherwise say why the peer is skipped; either way the benchmarks run. /usr/bin/python3 on purpose: a pyenv
// python first on PATH does not see Debian's packages.
bool EnsureTorchPeer()
{
    const string python = "/usr/bin/python3";
    bool TorchImports() => StartProcess(python, new ProcessSettings
    {
        Arguments = "-c \"import torch, numpy\"",
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    }) == 0;

    if (!FileExists(python))
    {
        Warning($"Torch peer skipped: {python} not found (it needs Debian's python3 and python3-torch).");
        return false;
    }

    if (TorchImports())
    {
        return true;
    }

    if (!IsRunningOnLinux() || !FileExists("/usr/bin/apt-get") || Environment.UserName != "root")
    {
        Warning("Torch peer skipped: python3-torch is not installed and this is not a root shell with apt-get; "
            + "install it with `sudo apt-get install python3-torch`, or pass --skip-torch to silence this.");
        return false;
    }

    Information("Installing Debian's python3-torch for the torch peer (about 1 GB with its dependencies)...");
    var apt = new ProcessSettings
    {
        Arguments = "install -y -q python3-torch",
        EnvironmentVariables = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" },
    };
    if (StartProcess("/usr/bin/apt-get", apt) != 0)
    {
        // A fresh machine has no package lists yet.
        StartProcess("/usr/bin/apt-get", new ProcessSettings { Arguments = "update -q" });
        StartProcess("/usr/bin/apt-get", apt);
    }

    if (TorchImports())
    {
        return true;
    }

    Warning("Torch peer skipped: installing python3-torch failed (see apt's output above).");
    return false;
}

Task("Bench")
    .Description("BenchmarkDotNet suites (roofline table), then the peer table; --bench-filter, --bench-job, --bench-peers, --skip-torch.")
    .Does(() =>
{
    var benchArtifacts = artifacts.Combine("bench");
    var peers = benchPeers ? " --with-peers" : "";
    var torch = benchPeers && !skipTorch && EnsureTorchPeer() ? "" : " --no-torch";
    Step("Benchmarks", "See the BenchmarkDotNet output above.",
        () => RunProject(benchProject,
            $"--filter {benchFilter.Quote()} --job {benchJob} --artifacts {benchArtifacts.FullPath.Quote()}{peers}{torch}",
            noBuild: false));
});

Task("PerfCompare")
    .Description("Short Stopwatch suite normalised by an in-run dgemm, compared with perf/baselines/<rid>.json; --update-baseline rewrites it.")
    .Does(() =>
{
    var arguments = "--perf-compare"
        + (updateBaseline ? " --update-baseline" : "")
        + (string.IsNullOrEmpty(perfThreshold) ? "" : $" --threshold {perfThreshold}");
    Step("Performance comparison",
        "A case is slower than its baseline by more than the threshold (table above); if the change is intended, rerun with --update-baseline.",
        () => RunProject(benchProject, arguments, noBuild: false));
});

Task("Demo")
    .Description("Runs `shampoo-mkl demo` after the native check.")
    .IsDependentOn("Native")
    .Does(() =>
{
    Step("shampoo-mkl demo", "See the output above.", () => RunProject(cliProject, "demo"));
});

Task("Pack")
    .Description("Packs ShampooMkl, ShampooMkl.TorchSharp (.nupkg + .snupkg) and the shampoo-mkl dotnet tool into artifacts/packages (builds; runs no tests).")
    .IsDependentOn("Build")
    .Does(() =>
{
    // Emptied first: the package tests and samples/PackageQuickstart install exactly what this run packed.
    CleanDirectory(packages);
    foreach (var project in new[] { libraryProject, torchSharpProject, cliProject })
    {
        Step($"dotnet pack {project.GetFilenameWithoutExtension()}", "The pack errors are listed above.",
            () => DotNetPack(project.FullPath, new DotNetPackSettings
            {
                Configuration = configuration,
                NoBuild = true,
                NoRestore = true,
                OutputDirectory = packages,
            }));
    }
});

Task("ApiBaseline")
    .Description("Regenerates the public API baselines (src/*/PublicAPI.Unshipped.txt) after an intentional API change.")
    .Does(() =>
{
    var exitCode = StartProcess("bash", new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder().Append("scripts/update-public-api.sh"),
        WorkingDirectory = root,
        EnvironmentVariables = new Dictionary<string, string> { ["CONFIGURATION"] = configuration },
    });
    if (exitCode != 0)
    {
        throw new CakeException($"scripts/update-public-api.sh failed (exit code {exitCode}); see its output above.");
    }
});

Task("Default")
    .IsDependentOn("Test");

RunTarget(target);
