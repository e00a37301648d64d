using ShampooMkl.Distributed;
using ShampooMkl.Native;

namespace ShampooMkl.Tests.Distributed;

/// <summary>Loading and describing Open MPI in the test process; nothing here calls MPI_Init.</summary>
public class MpiLibraryTests
{
    [Fact]
    public void Load_FindsOpenMpi_WithEveryFunctionAndHandle()
    {
        // Fails (never skips) on an unprovisioned machine, with the attempt trace and the install command.
        var lib = MpiLibrary.Load();

        Assert.StartsWith("Open MPI v", lib.Version, StringComparison.Ordinal);
        foreach (var symbol in MpiLibrary.RequiredFunctions.Concat(MpiLibrary.RequiredHandles))
        {
            Assert.True(lib.HasSymbol(symbol), $"{lib} lacks {symbol}");
        }

        Assert.Same(lib, MpiLibrary.Load());
        Assert.Contains(lib.LibraryPath, lib.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void LoadFirst_RecordsWhyEachCandidateWasRejected()
    {
        var attempts = new List<string>();

        var lib = MpiLibrary.LoadFirst(["/nonexistent/libmpi.so.40", "libc.so.6"], attempts);

        Assert.Null(lib);
        Assert.Equal(2, attempts.Count);
        Assert.Contains("/nonexistent/libmpi.so.40", attempts[0], StringComparison.Ordinal);
        Assert.Contains("not Open MPI", attempts[1], StringComparison.Ordinal);
        Assert.EndsWith("not found", attempts[0], StringComparison.Ordinal);
        var failure = new NativeLoadException("Could not load Open MPI.", attempts, MpiLibrary.InstallHint);
        Assert.Contains("apt-get install openmpi-bin", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("provision.sh", failure.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/libmpi.so.40", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MpiException_NamesTheCallAndTheCode()
    {
        var e = new MpiException("MPI_Allreduce", 15, "MPI_ERR_TRUNCATE: message truncated");

        Assert.Equal("MPI_Allreduce", e.Function);
        Assert.Equal(15, e.ErrorCode);
        Assert.Equal("MPI_Allreduce failed with MPI error 15: MPI_ERR_TRUNCATE: message truncated", e.Message);
    }

    [Theory]
    [InlineData(null, false, false)]
    [InlineData(null, true, true)]
    [InlineData("auto", true, true)]
    [InlineData(" AUTO ", false, false)]
    [InlineData("mpi", false, true)]
    [InlineData("single", true, false)]
    public void UseMpi_FollowsMpirunUnlessOverridden(string? mode, bool launchedByMpirun, bool expected)
    {
        Assert.Equal(expected, Communicators.UseMpi(mode, launchedByMpirun));
    }

    [Fact]
    public void UseMpi_ThrowsForAnUnknownMode()
    {
        var e = Assert.Throws<ArgumentException>(() => Communicators.UseMpi("mpich", true));
        Assert.Contains(Communicators.ModeVariable, e.Message, StringComparison.Ordinal);
    }
}
