using System.Diagnostics;

namespace ShampooMkl.Tests.IO;

/// <summary>Makes the special files a reader must refuse (a FIFO, a link to /dev/zero, a directory) and runs a read of
/// one so that a reader which hangs or never stops reading fails the test instead of stalling the run.</summary>
internal static class SpecialFiles
{
    /// <summary>A hang guard, not a timing assertion: a correct reader refuses at once.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    /// <summary>The kinds every reader is tried with.</summary>
    public static TheoryData<string> Kinds => new() { "fifo", "link to /dev/zero", "directory" };

    /// <summary>Creates a special file of <paramref name="kind"/> at <paramref name="path"/> (the parent folder must exist).</summary>
    public static void Create(string kind, string path)
    {
        switch (kind)
        {
            case "fifo":
                using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!)
                {
                    mkfifo.WaitForExit();
                    Assert.Equal(0, mkfifo.ExitCode);
                }

                break;
            case "link to /dev/zero":
                File.CreateSymbolicLink(path, "/dev/zero");
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown special file kind");
        }
    }

    /// <summary>Runs <paramref name="read"/> on another thread and returns what it threw (null if it returned).</summary>
    /// <remarks>If the read is still running after the guard, the test fails; a reader stuck opening the FIFO at
    /// <paramref name="fifo"/> is released first by opening it for writing (which cannot block while a reader waits), so a
    /// failing run does not leave a thread blocked for ever.</remarks>
    public static Exception? Outcome(Action read, string? fifo)
    {
        var task = Task.Factory.StartNew(read, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!WaitQuietly(task, HangGuard))
        {
            if (fifo is not null)
            {
                var release = Task.Run(() =>
                {
                    using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                });
                WaitQuietly(release, HangGuard);
            }

            Assert.Fail($"The read did not finish within {HangGuard.TotalSeconds:0} s: it blocked or kept reading a special file.");
        }

        return task.Exception?.InnerException;
    }

    private static bool WaitQuietly(Task task, TimeSpan timeout)
    {
        try
        {
            return task.Wait(timeout);
        }
        catch (AggregateException)
        {
            return true;
        }
    }
}
