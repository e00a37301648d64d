using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ShampooMkl.Optim;

/// <summary>One buffer of a <see cref="Parameter"/> (its values or its gradient): a managed array, a
/// <see cref="Memory{T}"/> or native memory, of <see cref="float"/> or <see cref="double"/>.</summary>
/// <remarks>Taking a span allocates nothing, so the optimizers can read and write caller memory every step.</remarks>
internal readonly struct TensorMemory
{
    private readonly Array? array;
    private readonly Memory<float> single;
    private readonly Memory<double> @double;
    private readonly nint pointer;

    private TensorMemory(Array? array, Memory<float> single, Memory<double> @double, nint pointer, int length, ParameterPrecision precision)
    {
        this.array = array;
        this.single = single;
        this.@double = @double;
        this.pointer = pointer;
        Length = length;
        Precision = precision;
    }

    public int Length { get; }

    public ParameterPrecision Precision { get; }

    /// <summary>The managed array behind the buffer, or null for memory or native memory.</summary>
    public Array? Array => array;

    public bool IsNative => pointer != 0;

    public static TensorMemory Of(float[] values) => new(values, values, default, 0, values.Length, ParameterPrecision.Single);

    public static TensorMemory Of(double[] values) => new(values, default, values, 0, values.Length, ParameterPrecision.Double);

    public static TensorMemory Of(Memory<float> values) => new(null, values, default, 0, values.Length, ParameterPrecision.Single);

    public static TensorMemory Of(Memory<double> values) => new(null, default, values, 0, values.Length, ParameterPrecision.Double);

    public static TensorMemory Native(nint pointer, int length, ParameterPrecision precision) => new(null, default, default, pointer, length, precision);

    /// <summary>The buffer as a span of <typeparamref name="T"/>, which must be the buffer's element type.</summary>
    /// <exception cref="ObjectDisposedException">The memory's owner was disposed.</exception>
    public unsafe Span<T> Span<T>() where T : unmanaged
    {
        if (pointer != 0)
        {
            return new Span<T>((void*)pointer, Length);
        }

        if (typeof(T) == typeof(float))
        {
            var s = single.Span;
            return MemoryMarshal.CreateSpan(ref Unsafe.As<float, T>(ref MemoryMarshal.GetReference(s)), s.Length);
        }

        var d = @double.Span;
        return MemoryMarshal.CreateSpan(ref Unsafe.As<double, T>(ref MemoryMarshal.GetReference(d)), d.Length);
    }

    /// <summary>The buffer as bytes (for overlap checks).</summary>
    public Span<byte> Bytes() =>
        Precision == ParameterPrecision.Single ? MemoryMarshal.AsBytes(Span<float>()) : MemoryMarshal.AsBytes(Span<double>());
}
