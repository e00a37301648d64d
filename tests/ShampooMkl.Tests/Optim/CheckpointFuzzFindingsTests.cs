using System.Security.Cryptography;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>Inputs the fuzz harness (fuzz/) found: payloads with a valid checksum whose strings are malformed must be
/// refused as <see cref="InvalidDataException"/> like every other damaged checkpoint, not escape as other exceptions.</summary>
public sealed class CheckpointFuzzFindingsTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("shampoo-fuzz-findings-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "7-bit")]     // a string length of six 7-bit groups (FormatException)
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }, "string length")] // a string length of -1 (IOException)
    public void MalformedStringInAChecksummedPayload_IsInvalidData(byte[] payload, string detail)
    {
        var path = Path.Combine(folder, "crafted.ckpt");
        File.WriteAllBytes(path, Wrap(payload));

        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Read(path));

        Assert.Contains("valid checksum but a malformed payload", error.Message);
        Assert.Contains(detail, error.Message, StringComparison.OrdinalIgnoreCase);
    }

    private static byte[] Wrap(byte[] payload)
    {
        var file = new byte[20 + payload.Length + 32];
        Checkpoint.Magic.CopyTo(file);
        BitConverter.TryWriteBytes(file.AsSpan(8), Checkpoint.FormatVersion);
        BitConverter.TryWriteBytes(file.AsSpan(12), (long)payload.Length);
        payload.CopyTo(file, 20);
        SHA256.HashData(file.AsSpan(0, 20 + payload.Length), file.AsSpan(20 + payload.Length));
        return file;
    }
}
