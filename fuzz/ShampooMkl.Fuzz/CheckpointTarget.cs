using System.Security.Cryptography;
using ShampooMkl.Optim;

namespace ShampooMkl.Fuzz;

/// <summary><see cref="Checkpoint.Read(string)"/> and <see cref="Checkpoint.Load(ICheckpointable, string)"/> (into a small Shampoo) of a file holding the bytes.</summary>
/// <remarks>The SHA-256 would stop almost every mutation at the checksum, so an input that does not start with the magic
/// is taken as a payload and wrapped in a valid header and checksum: the parser and the import behind the checksum
/// are fuzzed too. Inputs that start with the magic are written as they are (header and checksum checks).</remarks>
internal sealed class CheckpointTarget : FuzzTarget
{
    /// <summary>The first 8 bytes of a checkpoint file, as docs/design.md ('Checkpoints') documents the format.</summary>
    private static ReadOnlySpan<byte> CheckpointMagic => "SHMPCKPT"u8;

    private readonly string path = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"shampoo-fuzz-{Environment.ProcessId}.ckpt");
    private readonly Parameter[] parameters = [new Parameter("w", new float[6], [2, 3]), new Parameter("b", new float[3], [3])];
    private Shampoo? optimizer;

    public override string Name => "checkpoint";

    public override IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var optimizer = Optimizer();
        for (var step = 1; step <= 3; step++)
        {
            foreach (var p in parameters)
            {
                var g = p.GetGradient<float>();
                for (var i = 0; i < g.Length; i++)
                {
                    g[i] = (float)Math.Sin((step * 7) + i);
                }
            }

            optimizer.Step();
        }

        Checkpoint.Save(optimizer, path);
        var file = File.ReadAllBytes(path);
        yield return ("shampoo.ckpt", file);
        yield return ("shampoo.payload", file[20..^32]);
    }

    public override void Dispose()
    {
        optimizer?.Dispose();
        File.Delete(path);
    }

    protected override void Read(ReadOnlySpan<byte> input)
    {
        File.WriteAllBytes(path, input.StartsWith(CheckpointMagic) ? input.ToArray() : Wrap(input));
        var contents = Checkpoint.Read(path);
        if (contents.Kind == Optimizer().CheckpointKind)
        {
            Checkpoint.Load(Optimizer(), path);
        }
    }

    private static byte[] Wrap(ReadOnlySpan<byte> payload)
    {
        var file = new byte[20 + payload.Length + 32];
        CheckpointMagic.CopyTo(file);
        BitConverter.TryWriteBytes(file.AsSpan(8), Checkpoint.FormatVersion);
        BitConverter.TryWriteBytes(file.AsSpan(12), (long)payload.Length);
        payload.CopyTo(file.AsSpan(20));
        SHA256.HashData(file.AsSpan(0, 20 + payload.Length), file.AsSpan(20 + payload.Length));
        return file;
    }

    private Shampoo Optimizer() => optimizer ??= new Shampoo(parameters, ShampooOptions.Shampoo with { MaxPreconditionerDim = 2, PreconditionFrequency = 1 });
}
