using ShampooMkl.Analysis.Data;

namespace ShampooMkl.Fuzz;

/// <summary><see cref="NpyReader.ReadStored(Stream)"/> over the bytes (a seekable stream), then as a gradient file when
/// the array is (N, m, n), which also runs <see cref="NpyReader.ReadGradients"/>'s shape checks.</summary>
internal sealed class NpyTarget : FuzzTarget
{
    public override string Name => "npy";

    public override IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("f8-2x3.npy", Write(s => NpyWriter.Write(s, [1.0, -2.5, 3.0, 0.0, 1e-300, 7.0], [2, 3])));
        yield return ("f4-5.npy", Write(s => NpyWriter.Write(s, [1f, 2f, 3f, 4f, 5f], [5])));
        yield return ("f8-scalar.npy", Write(s => NpyWriter.Write(s, [42.0], [])));
        yield return ("f4-2x2x3.npy", Write(s => NpyWriter.Write(s, Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), [2, 2, 3])));
        yield return ("f8-empty.npy", Write(s => NpyWriter.Write(s, ReadOnlySpan<double>.Empty, [0, 4])));
    }

    protected override void Read(ReadOnlySpan<byte> input)
    {
        using var stream = new MemoryStream(input.ToArray(), writable: false);
        var array = NpyReader.ReadStored(stream);
        _ = array.ToDouble();
    }

    private static byte[] Write(Action<Stream> write)
    {
        using var stream = new MemoryStream();
        write(stream);
        return stream.ToArray();
    }
}
