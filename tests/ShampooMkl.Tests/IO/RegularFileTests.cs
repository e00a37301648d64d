using System.Buffers.Binary;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Training;
using ShampooMkl.IO;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.IO;

/// <summary>Every reader of data files refuses a FIFO, a link to /dev/zero and a directory at once, naming the path, and
/// headers that declare more data than the file holds are refused before anything of that size is allocated.</summary>
public sealed class RegularFileTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("shampoo-regular-file-").FullName;

    /// <summary>The readers, each with the file name it reads inside its folder.</summary>
    public static TheoryData<string, string> ReadersAndKinds()
    {
        var data = new TheoryData<string, string>();
        foreach (var reader in new[] { "RegularFile.OpenRead", "Checkpoint.Read", "OptimizerCheckpointer.Load", "NpyReader.Read", "NpyReader.ReadStored", "TrainingCheckpoint.ReadIndex", "MnistDataset.LoadFromDigitsFolder" })
        {
            foreach (var kind in new[] { "fifo", "link to /dev/zero", "directory" })
            {
                data.Add(reader, kind);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ReadersAndKinds))]
    public void SpecialFile_IsRefusedAtOnce_WithAMessageNamingIt(string reader, string kind)
    {
        var (path, read) = Prepare(reader);
        SpecialFiles.Create(kind, path);

        var error = SpecialFiles.Outcome(read, kind == "fifo" ? path : null);

        var refusal = Assert.IsType<InvalidDataException>(error);
        Assert.Contains(path, refusal.Message);
        Assert.Contains("not a regular file", refusal.Message);
        if (reader != "TrainingCheckpoint.ReadIndex" || kind == "fifo")
        {
            // TrainingCheckpoint.Exists refuses any link or folder at the index's path itself, without naming its kind.
            Assert.Contains(kind switch { "fifo" => "FIFO", "directory" => "a directory", _ => "'/dev/zero', a character device" }, refusal.Message);
        }
    }

    [Fact]
    public void LinkToARegularFile_IsFollowed()
    {
        var target = Path.Combine(folder, "target.bin");
        File.WriteAllBytes(target, [1, 2, 3]);
        var link = Path.Combine(folder, "link.bin");
        File.CreateSymbolicLink(link, target);

        Assert.Equal([1, 2, 3], RegularFile.ReadAllBytes(link, maxBytes: 3));
    }

    [Fact]
    public void MissingFile_IsFileNotFound()
    {
        var path = Path.Combine(folder, "absent.bin");

        var error = Assert.Throws<FileNotFoundException>(() => RegularFile.OpenRead(path));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void ReadAllBytes_RefusesAFileLongerThanTheLimit_BeforeAllocatingIt()
    {
        var path = Path.Combine(folder, "large.bin");
        using (var file = File.Create(path))
        {
            file.SetLength(64 << 20);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidDataException>(() => RegularFile.ReadAllBytes(path, maxBytes: 1 << 20));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains(path, error.Message);
        Assert.Contains((64 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated to refuse a 64 MiB file");
    }

    [Fact]
    public void CheckpointHeaderDeclaringGigabytes_IsRefusedWithoutAllocatingThem()
    {
        // 128 bytes: a real magic and version, then a payload length of 8 GiB.
        var bytes = new byte[128];
        Checkpoint.Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), Checkpoint.FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(12), 8L << 30);
        var path = Path.Combine(folder, "lying.ckpt");
        File.WriteAllBytes(path, bytes);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Read(path));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains(path, error.Message);
        Assert.Contains((8L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.Contains("the file has 128", error.Message);
        Assert.True(allocated < 64 << 10, $"{allocated} bytes allocated to refuse a 128-byte checkpoint");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private (string Path, Action Read) Prepare(string reader)
    {
        switch (reader)
        {
            case "RegularFile.OpenRead":
            {
                var path = Path.Combine(folder, "data.bin");
                return (path, () => RegularFile.OpenRead(path).Dispose());
            }

            case "Checkpoint.Read":
            {
                var path = Path.Combine(folder, "optimizer.ckpt");
                return (path, () => Checkpoint.Read(path));
            }

            case "OptimizerCheckpointer.Load":
            {
                // The attack run's case: the epoch folder's optimizer.ckpt replaced by something special.
                var epoch = Directory.CreateDirectory(Path.Combine(folder, "epoch-0001")).FullName;
                var parameters = new[] { new Parameter("w", new float[6], [2, 3]) };
                return (Path.Combine(epoch, OptimizerCheckpointer.FileName), () =>
                {
                    using var sgd = new Sgd(parameters);
                    OptimizerCheckpointer.Default.Load(sgd, epoch);
                });
            }

            case "NpyReader.Read":
            {
                var path = Path.Combine(folder, "gradients.npy");
                return (path, () => NpyReader.Read(path));
            }

            case "NpyReader.ReadStored":
            {
                var path = Path.Combine(folder, "gradients.npy");
                return (path, () => NpyReader.ReadStored(path));
            }

            case "TrainingCheckpoint.ReadIndex":
                return (Path.Combine(folder, TrainingCheckpoint.IndexFileName), () => TrainingCheckpoint.ReadIndex(folder));

            case "MnistDataset.LoadFromDigitsFolder":
            {
                var digits = Directory.CreateDirectory(Path.Combine(folder, "digits")).FullName;
                return (Path.Combine(digits, "0.json"), () => MnistDataset.LoadFromDigitsFolder(digits));
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(reader), reader, "unknown reader");
        }
    }
}
