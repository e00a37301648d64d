using System.Buffers.Binary;
using System.Text;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Data;

/// <summary>Round trips and every rejection path of the .npy reader, with files built byte by byte where NumPy's own output is needed.</summary>
public sealed class NpyReaderTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "shampoo-npy-" + Guid.NewGuid().ToString("N"));

    public NpyReaderTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public static TheoryData<int[]> Shapes() => new()
    {
        new[] { 2, 3 },
        new[] { 5 },
        Array.Empty<int>(),
        new[] { 2, 3, 4 },
        new[] { 2, 0, 3 },
        new[] { 1, 1, 1, 7 },
        new[] { 3, 200, 200 },   // 120,000 elements: more than one 65,536-element read chunk
        new[] { 65_536 },        // exactly one chunk
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RoundTrip_Float64(int[] shape)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        double[] data = SeededRandom.Gaussian(3, count);
        string path = PathFor("f8.npy");
        NpyWriter.Write(path, data, shape);

        NpyArray array = NpyReader.Read(path);

        Assert.Equal("<f8", array.DType);
        Assert.Equal(shape, array.Shape);
        Assert.Equal(data, array.Data);

        NpyStoredArray stored = NpyReader.ReadStored(path);
        Assert.Null(stored.Single);
        Assert.Equal(data, stored.Double);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RoundTrip_Float32(int[] shape)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        float[] data = SeededRandom.GaussianSingle(4, count);
        string path = PathFor("f4.npy");
        NpyWriter.Write(path, data, shape);

        NpyArray array = NpyReader.Read(path);

        Assert.Equal("<f4", array.DType);
        Assert.Equal(shape, array.Shape);
        Assert.Equal(data.Select(x => (double)x), array.Data);

        // The stored-precision read keeps the fp32 values as they are.
        NpyStoredArray stored = NpyReader.ReadStored(path);
        Assert.Equal("<f4", stored.DType);
        Assert.Equal(shape, stored.Shape);
        Assert.Null(stored.Double);
        Assert.Equal(data, stored.Single);
    }

    [Fact]
    public void Writer_ProducesNumPyHeaderLayout()
    {
        using var stream = new MemoryStream();
        NpyWriter.Write(stream, new double[6], [2, 3]);
        byte[] bytes = stream.ToArray();

        // np.save aligns the data to 64 bytes; for a small 2-D array the data starts at offset 128.
        Assert.Equal(128 + (6 * 8), bytes.Length);
        Assert.Equal(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }, bytes[..8]);
        Assert.Equal(118, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)));
        string header = Encoding.ASCII.GetString(bytes, 10, 118);
        Assert.StartsWith("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", header);
        Assert.EndsWith("\n", header);
    }

    [Fact]
    public void Reader_LeavesStreamAfterArray_SoConsecutiveArraysCanBeRead()
    {
        using var stream = new MemoryStream();
        NpyWriter.Write(stream, [1.0, 2.0], [2]);
        NpyWriter.Write(stream, [3f, 4f, 5f], [3, 1]);
        stream.Position = 0;

        Assert.Equal([1.0, 2.0], NpyReader.Read(stream).Data);
        NpyArray second = NpyReader.Read(stream);
        Assert.Equal([3, 1], second.Shape);
        Assert.Equal([3.0, 4.0, 5.0], second.Data);
    }

    [Theory]
    [InlineData(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }")]
    [InlineData(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }")]
    [InlineData(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }")]
    [InlineData(1, "{\"descr\": \"<f8\", \"shape\": (2, 2), \"fortran_order\": False}")]
    [InlineData(1, "{'descr':'<f8','fortran_order':False,'shape':(2L, 2L)}")]
    public void Reader_AcceptsHeaderVariants(int major, string dict)
    {
        double[] values = [1.5, -2, 3.25, 4];
        string path = WriteRaw(major, 0, dict, Float64Bytes(values));

        NpyArray array = NpyReader.Read(path);

        Assert.Equal([2, 2], array.Shape);
        Assert.Equal(values, array.Data);
    }

    [Fact]
    public void Reject_WrongMagic()
    {
        string path = PathFor("bad.npy");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("PK\u0003\u0004 this is a zip, not npy"));
        AssertRejected(path, "wrong magic");
    }

    [Theory]
    [InlineData(4, 0, "4.0")]
    [InlineData(1, 1, "1.1")]
    [InlineData(0, 0, "0.0")]
    public void Reject_UnsupportedVersion(byte major, byte minor, string shown)
    {
        string path = WriteRaw(major, minor, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", Float64Bytes([1.0]));
        AssertRejected(path, $"unsupported .npy version {shown}");
    }

    [Theory]
    [InlineData(">f8")]
    [InlineData("<i4")]
    [InlineData("<f2")]
    [InlineData("|u1")]
    [InlineData("<c16")]
    public void Reject_UnsupportedDType_NamesIt(string dtype)
    {
        string path = WriteRaw(1, 0, $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': (1,), }}", new byte[16]);
        AssertRejected(path, $"unsupported dtype '{dtype}'");
    }

    [Fact]
    public void Reject_StructuredDType()
    {
        string path = WriteRaw(1, 0, "{'descr': [('x', '<f8'), ('y', '<i4')], 'fortran_order': False, 'shape': (1,), }", new byte[12]);
        AssertRejected(path, "structured");
    }

    [Fact]
    public void Reject_FortranOrder()
    {
        string path = WriteRaw(1, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", new byte[32]);
        AssertRejected(path, "array must be C order");
    }

    [Theory]
    [InlineData("{'descr': '<f8', 'fortran_order': False, }", "missing key 'shape'")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }", "malformed .npy header")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)", "malformed .npy header")]
    [InlineData("not a dict at all", "malformed .npy header")]
    [InlineData("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }", "fortran_order")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", "negative dimension")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } trailing", "after the dict")]
    public void Reject_MalformedHeader(string dict, string expected)
    {
        string path = WriteRaw(1, 0, dict, new byte[32]);
        AssertRejected(path, expected);
    }

    [Fact]
    public void Reject_HeaderLongerThanFile()
    {
        string path = PathFor("short-header.npy");
        byte[] bytes = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 200, 0, (byte)'{'];
        File.WriteAllBytes(path, bytes);
        AssertRejected(path, "malformed .npy header");
    }

    [Theory]
    [InlineData("(100000, 100000, 100000)")]
    [InlineData("(3000000000,)")]
    [InlineData("(99999999999999999999999,)")]
    public void Reject_ShapeWhoseProductOverflows(string shape)
    {
        string path = WriteRaw(1, 0, $"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}", new byte[8]);
        AssertRejected(path, "overflows");
    }

    [Theory]
    [InlineData("<f8", 8)]
    [InlineData("<f4", 4)]
    public void Reject_TruncatedData(string dtype, int itemSize)
    {
        // Shape (3, 4) needs 12 elements; give 5 and a half.
        int present = (5 * itemSize) + (itemSize / 2);
        string path = WriteRaw(1, 0, $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': (3, 4), }}", new byte[present]);
        AssertRejected(path, $"expected {12 * itemSize} bytes of data, found {present}");
    }

    [Fact]
    public void HeaderDeclaringGigabytes_IsRefusedWithoutAllocatingThem()
    {
        // A 128-byte file (header only, no data) whose header declares 2³⁰ fp64 values (8 GiB).
        string path = WriteRaw(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824,), }", []);
        Assert.Equal(128, new FileInfo(path).Length);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidDataException>(() => NpyReader.ReadStored(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("expected 8589934592 bytes of data, found 0", ex.Message);
        Assert.Contains(path, ex.Message);
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated to refuse a 128-byte file");
    }

    [Fact]
    public void UnseekableStream_WithALyingHeader_AllocatesOnlyAsDataArrives()
    {
        // 100,000 values present where the header declares 2³⁰ (8 GiB): the array grows with the data, then the read fails.
        byte[] file = File.ReadAllBytes(WriteRaw(1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824,), }", new byte[800_000]));
        using var stream = new UnseekableStream(file);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidDataException>(() => NpyReader.ReadStored(stream));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("expected 8589934592 bytes of data, found 800000", ex.Message);
        Assert.True(allocated < 8 << 20, $"{allocated} bytes allocated for 800,000 bytes of data");
    }

    [Theory]
    [InlineData(new[] { 3, 200, 200 })]   // several 65,536-element chunks, so the array grows more than once
    [InlineData(new[] { 65_536 })]
    [InlineData(new[] { 0 })]
    public void UnseekableStream_RoundTrips(int[] shape)
    {
        double[] data = SeededRandom.Gaussian(9, shape.Aggregate(1, (a, b) => a * b));
        string path = PathFor("unseekable.npy");
        NpyWriter.Write(path, data, shape);
        using var stream = new UnseekableStream(File.ReadAllBytes(path));

        NpyStoredArray stored = NpyReader.ReadStored(stream);

        Assert.Equal(shape, stored.Shape);
        Assert.Equal(data, stored.Double);
    }

    [Fact]
    public void ReadGradients_ReturnsDimensions()
    {
        double[] data = SeededRandom.Gaussian(8, 5 * 3 * 2);
        string path = PathFor("grads.npy");
        NpyWriter.Write(path, data, [5, 3, 2]);

        (int count, int rows, int columns, double[] values) = NpyReader.ReadGradients(path);

        Assert.Equal((5, 3, 2), (count, rows, columns));
        Assert.Equal(data, values);
    }

    [Theory]
    [InlineData(new[] { 6, 5 })]
    [InlineData(new[] { 2, 3, 4, 5 })]
    [InlineData(new[] { 0, 3, 4 })]
    public void ReadGradients_RejectsOtherShapes(int[] shape)
    {
        string path = PathFor("not-grads.npy");
        NpyWriter.Write(path, new double[shape.Aggregate(1, (a, b) => a * b)], shape);

        var ex = Assert.Throws<InvalidDataException>(() => NpyReader.ReadGradients(path));
        Assert.Contains("(N, m, n)", ex.Message);
        Assert.Contains(string.Join(", ", shape), ex.Message);
    }

    [Fact]
    public void Writer_RejectsShapeThatDoesNotMatchData()
    {
        var ex = Assert.Throws<ArgumentException>(() => NpyWriter.Write(PathFor("x.npy"), new double[5], [2, 3]));
        Assert.Contains("6 elements but 5", ex.Message);
    }

    private static void AssertRejected(string path, string expectedFragment)
    {
        var ex = Assert.Throws<InvalidDataException>(() => NpyReader.Read(path));
        Assert.Contains(expectedFragment, ex.Message);
        Assert.Contains(path, ex.Message);
    }

    private string PathFor(string name) => Path.Combine(_folder, name);

    private static byte[] Float64Bytes(double[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        }

        return bytes;
    }

    // Builds a file the way NumPy lays it out, but with any version and header text, so each
    // rejection path can be reached without NumPy installed.
    private string WriteRaw(int major, int minor, string dict, byte[] data)
    {
        int lengthBytes = major == 1 ? 2 : 4;
        int unpadded = 8 + lengthBytes + dict.Length + 1;
        int padded = (unpadded + 63) / 64 * 64;
        string header = dict + new string(' ', padded - unpadded) + "\n";

        using var stream = new MemoryStream();
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, (byte)minor]);
        var length = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        stream.Write(length, 0, lengthBytes);
        stream.Write(Encoding.UTF8.GetBytes(header));
        stream.Write(data);

        string path = PathFor($"raw-{Guid.NewGuid():N}.npy");
        File.WriteAllBytes(path, stream.ToArray());
        return path;
    }

    /// <summary>A pipe-like stream: forward reads only, no length.</summary>
    private sealed class UnseekableStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream inner = new(bytes, writable: false);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
