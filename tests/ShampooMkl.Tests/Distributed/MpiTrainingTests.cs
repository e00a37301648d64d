using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Distributed;

/// <summary>Distributed Shampoo under mpirun: the host's <c>train</c> command on a small MLP (12 blocks of at most 8×8,
/// two diagonal biases, warm-started roots, Adam grafting, momentum), compared with one process.</summary>
/// <remarks>
/// <para>Two comparisons with one process. Against one process computing the gradient of the whole batch the result
/// differs in the last bits, because two ranks add their shares of the mean gradient after each summed its own
/// examples, where one process sums all examples in one gemm. Measured after 12 steps: 1.8e-6 of the largest weight
/// (about 15 fp32 ulps). <see cref="Tolerance"/> = 1e-4 of the largest weight leaves ~50× headroom, while any real
/// error (a missing rank's share, a stale or misplaced block) moves weights by the order of a step, η·|update| ≈ 1e-2.
/// Against one process that emulates the two ranks' reduction (<c>--shards 2</c>: each half's gradient scaled, then
/// added, in the same fp32 operations) the result must be identical bit for bit: everything else, each block's root
/// and direction included, is computed by the same code on one BLAS thread.</para>
/// <para>With three ranks MPI may add the three shares in another order than one process would, so only the tolerance holds.</para>
/// </remarks>
[Collection(nameof(MpiJobs))]
[Trait("Category", "Mpi")]
public sealed class MpiTrainingTests : IClassFixture<MpiTrainingTests.Runs>
{
    /// <summary>Allowed difference from a differently-reduced run, relative to the largest weight (see the class remarks).</summary>
    private const double Tolerance = 1e-4;

    private const int Steps = 12;
    private readonly Runs runs;

    public MpiTrainingTests(Runs runs) => this.runs = runs;

    [Fact]
    public void TwoRanks_EqualOneProcess_BitForBit_WhenItReducesAlike_AndWithinTolerance_Otherwise()
    {
        var twoRanks = runs.Uninterrupted;

        var emulated = Train(runs.Path("emulated.bin"), "--shards", "2");
        var plain = Train(runs.Path("plain.bin"));

        AssertSameBits(twoRanks.Parameters, emulated, "2 ranks against 1 process reducing 2 shards");
        AssertClose(plain, twoRanks.Parameters, "2 ranks against 1 process with the whole batch");
        Assert.NotEqual(ToBits(plain), ToBits(twoRanks.Parameters));
    }

    [Fact]
    public void TwoRanks_HoldBitIdenticalParameters()
    {
        var job = runs.Uninterrupted.Job;

        var checksums = Regex.Matches(job.Stdout, @"rank (\d) checksum=([0-9A-F]{16})").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
        Assert.True(checksums.Count == 2 && checksums[0].Item2 == checksums[1].Item2 && checksums[0].Item1 != checksums[1].Item1, job.Description);
        Assert.Contains($"checksum={checksums[0].Item2}", job.Stdout.Split('\n').Single(l => l.StartsWith("train ok", StringComparison.Ordinal)));
    }

    [Fact]
    public void FactorsInFp32_TwoRanks_EqualOneProcessReducingAlike()
    {
        var job = MpiJob.Run(2, "train", "--steps", $"{Steps}", "--distributed", "--precision", "single", "--out", runs.Path("single2.bin"));
        job.AssertSucceededWith("train ok ranks=2");
        var emulated = Train(runs.Path("single1.bin"), "--precision", "single", "--shards", "2");

        AssertSameBits(Read(runs.Path("single2.bin")), emulated, "fp32 factors, 2 ranks against 1 process reducing 2 shards");
    }

    [Fact]
    public void Checkpoint_IsWrittenOnceByRankZero_HoldsWhatOneProcessWould_AndResumesOnOneTwoOrThreeRanks()
    {
        var distributed = runs.Path("half-2ranks.ckpt");
        var single = runs.Path("half-1process.ckpt");
        var save = MpiJob.Run(2, "train", "--steps", "6", "--distributed", "--checkpoint", distributed, "--checkpoint-every", "3");
        save.AssertSucceededWith("train ok ranks=2");
        var saves = save.Stdout.Split('\n').Where(l => l.StartsWith("checkpoint written", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
        Assert.True(saves.SequenceEqual(["checkpoint written step=3 by rank 0", "checkpoint written step=6 by rank 0"]), save.Description);
        Assert.Equal(["half-2ranks.ckpt"], Directory.GetFiles(runs.Folder, "half-2ranks*").Select(Path.GetFileName));
        MpiJob.RunAlone("train", "--steps", "6", "--shards", "2", "--checkpoint", single, "--checkpoint-every", "6").AssertSucceededWith("train ok");

        // The same tensors, bit for bit, as one process's checkpoint (only timings in the statistics may differ).
        var fromRanks = Checkpoint.Read(distributed);
        var fromOne = Checkpoint.Read(single);
        Assert.Equal(fromOne.Signature, fromRanks.Signature);
        Assert.Equal(fromOne.Statistics.RefreshedBlocks, fromRanks.Statistics.RefreshedBlocks);
        Optim.OptimTestData.AssertSameState(fromOne.Tensors, fromRanks.Tensors, "2-rank checkpoint against 1 process's");

        var resumedOnTwo = MpiJob.Run(2, "train", "--steps", $"{Steps}", "--distributed", "--resume", distributed, "--out", runs.Path("resumed2.bin"));
        resumedOnTwo.AssertSucceededWith("train ok ranks=2");
        AssertSameBits(runs.Uninterrupted.Parameters, Read(runs.Path("resumed2.bin")), "resumed on 2 ranks against uninterrupted");

        var resumedAlone = Train(runs.Path("resumed1.bin"), "--shards", "2", "--resume", distributed);
        AssertSameBits(runs.Uninterrupted.Parameters, resumedAlone, "resumed in 1 process (2 shards) against uninterrupted 2 ranks");

        var resumedOnThree = MpiJob.Run(3, "train", "--steps", $"{Steps}", "--distributed", "--resume", distributed, "--out", runs.Path("resumed3.bin"));
        resumedOnThree.AssertSucceededWith("train ok ranks=3");
        AssertClose(runs.Uninterrupted.Parameters, Read(runs.Path("resumed3.bin")), "resumed on 3 ranks against uninterrupted 2 ranks");
    }

    [Fact]
    public void Trainer_TwoRanks_WritesOneCheckpointFolder_ThatResumesOnTwoRanksBitForBit_AndOnOneWithinTolerance()
    {
        var straight = MpiJob.Run(2, "trainer", "--epochs", "3", "--distributed", "--out", runs.Path("trainer-straight.bin"));
        straight.AssertSucceededWith("trainer ok ranks=2 epochs=3 resumedAfter=0");
        var folder = runs.Path("trainer-ck");
        MpiJob.Run(2, "trainer", "--epochs", "2", "--distributed", "--checkpoint", folder).AssertSucceededWith("trainer ok ranks=2 epochs=2");

        // Rank 0 alone wrote the folder: its lock file, the index and the one complete epoch folder, nothing partial.
        var entries = Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories)
            .Select(e => System.IO.Path.GetRelativePath(folder, e)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal([Analysis.Training.CheckpointFolderLock.FileName, "checkpoint.json", "epoch-0002", System.IO.Path.Combine("epoch-0002", "optimizer.ckpt")], entries);
        var copy = runs.Path("trainer-ck-copy");
        Directory.CreateDirectory(System.IO.Path.Combine(copy, "epoch-0002"));
        foreach (var entry in entries.Where(e => File.Exists(System.IO.Path.Combine(folder, e))))
        {
            File.Copy(System.IO.Path.Combine(folder, entry), System.IO.Path.Combine(copy, entry));
        }

        MpiJob.Run(2, "trainer", "--epochs", "3", "--distributed", "--checkpoint", folder, "--resume", "--out", runs.Path("trainer-resumed2.bin"))
            .AssertSucceededWith("trainer ok ranks=2 epochs=3 resumedAfter=2");
        MpiJob.RunAlone("trainer", "--epochs", "3", "--checkpoint", copy, "--resume", "--out", runs.Path("trainer-resumed1.bin"))
            .AssertSucceededWith("trainer ok ranks=1 epochs=3 resumedAfter=2");

        var expected = Read(runs.Path("trainer-straight.bin"));
        AssertSameBits(expected, Read(runs.Path("trainer-resumed2.bin")), "Trainer resumed on 2 ranks against uninterrupted");
        AssertClose(expected, Read(runs.Path("trainer-resumed1.bin")), "Trainer resumed in 1 process against uninterrupted 2 ranks");
    }

    [Theory]
    [InlineData("1:10", 8, "at step 10")]
    [InlineData("1:8:checkpoint", 4, "before the checkpoint save of step 8")]
    public void RankDying_EndsTheJobWithinSeconds_LeavingOnlyTheLastCompleteCheckpoint(string die, int lastSaved, string when)
    {
        var folder = Directory.CreateDirectory(runs.Path($"die-{die.Replace(':', '-')}")).FullName;
        var path = System.IO.Path.Combine(folder, "run.ckpt");
        var job = MpiJob.Run(2, TimeSpan.FromSeconds(60), new Dictionary<string, string> { [HostDieVariable] = die },
            "train", "--steps", $"{Steps}", "--distributed", "--checkpoint", path, "--checkpoint-every", "4");

        Assert.True(job.ExitCode != 0, "mpirun must report the failed rank." + Environment.NewLine + job.Description);
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(30), "The surviving rank waited too long." + Environment.NewLine + job.Description);
        Assert.True(job.Stderr.Contains($"[rank 1] dying {when}", StringComparison.Ordinal), job.Description);
        var output = job.Stdout + job.Stderr;
        Assert.True(output.Contains("exited with non-zero status", StringComparison.Ordinal) || output.Contains("stopped by SIGTERM", StringComparison.Ordinal),
            "No message says why the job ended." + Environment.NewLine + job.Description);
        Assert.DoesNotContain("train ok", job.Stdout, StringComparison.Ordinal);

        // Nothing but the last complete checkpoint: no temporary file, no newer partial one.
        Assert.Equal(["run.ckpt"], Directory.GetFiles(folder).Select(System.IO.Path.GetFileName));
        var contents = Checkpoint.Read(path);
        Assert.Equal(lastSaved, contents.Tensors.Single(t => t.Name == "step").Data[0]);
    }

    private const string HostDieVariable = "SHAMPOO_HOST_DIE";

    private float[] Train(string output, params string[] extra)
    {
        string[] args = ["train", "--steps", $"{Steps}", "--out", output, .. extra];
        MpiJob.RunAlone(args).AssertSucceededWith("train ok ranks=1");
        return Read(output);
    }

    private static float[] Read(string path) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();

    private static uint[] ToBits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var differing = expected.Zip(actual).Count(p => BitConverter.SingleToUInt32Bits(p.First) != BitConverter.SingleToUInt32Bits(p.Second));
        Assert.True(differing == 0, $"{what}: {differing} of {expected.Length} parameters differ in their bits.");
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Max(v => Math.Abs((double)v));
        var worst = expected.Zip(actual).Max(p => Math.Abs((double)p.First - p.Second));
        Assert.True(worst <= Tolerance * scale,
            string.Create(CultureInfo.InvariantCulture, $"{what}: largest difference {worst:G3} exceeds {Tolerance:G1} × max|w| = {Tolerance * scale:G3}."));
    }

    /// <summary>The uninterrupted two-rank run several tests compare with, run once, and a folder for the tests' files.</summary>
    public sealed class Runs : IDisposable
    {
        private readonly Lazy<(JobResult Job, float[] Parameters)> uninterrupted;

        public Runs()
        {
            Folder = Directory.CreateTempSubdirectory("shampoo-mpi-train-").FullName;
            uninterrupted = new(() =>
            {
                var output = Path("uninterrupted2.bin");
                var job = MpiJob.Run(2, "train", "--steps", $"{Steps}", "--distributed", "--out", output);
                job.AssertSucceededWith("train ok ranks=2");
                return (job, Read(output));
            });
        }

        public string Folder { get; }

        /// <summary>Two ranks, <see cref="Steps"/> steps, no checkpoint.</summary>
        public (JobResult Job, float[] Parameters) Uninterrupted => uninterrupted.Value;

        public string Path(string name) => System.IO.Path.Combine(Folder, name);

        public void Dispose()
        {
            try
            {
                Directory.Delete(Folder, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover folder in the temp directory is harmless.
            }
        }
    }
}
