namespace ShampooMkl.Optim;

/// <summary>One trainable tensor: its values, its gradient (same length) and its shape, row-major.</summary>
/// <remarks>
/// <para>The optimizer sees a tensor of rank ≥ 2 as a matrix of <c>Shape[0]</c> rows and the product of the
/// trailing dimensions as columns (as Distributed Shampoo merges dimensions); rank 1 and scalars are
/// vectors and get a diagonal preconditioner.</para>
/// <para>Values and gradient may live in memory the optimizer does not own: managed arrays (the constructor), a
/// <see cref="Memory{T}"/> (<see cref="FromMemory(string, Memory{float}, int[])"/>) or native memory
/// (<see cref="FromPointer(string, nint, int, ParameterPrecision, int[])"/>), of fp32 or fp64
/// (<see cref="ElementType"/>). Optimizers read the gradient and write the values in place, without copying them;
/// the caller keeps the memory alive and unmoved while an optimizer may step (pinned, for a managed array behind native
/// memory). The gradient can be re-bound between steps with <see cref="BindGradient(float[])"/> and its overloads,
/// e.g. when a framework hands over a new buffer each step. Whatever kind of memory, values and gradient must not
/// overlap; <see cref="IOptimizer.Step"/> checks this (and that memory was not disposed) before any state changes.</para>
/// </remarks>
public sealed class Parameter
{
    private readonly TensorMemory value;
    private TensorMemory gradient;

    /// <summary>Creates an fp32 parameter over <paramref name="value"/>; the gradient starts as a new zero array.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> or <paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">The shape is empty, has a non-positive dimension, or does not match the value length.</exception>
    public Parameter(string name, float[] value, params int[] shape)
        : this(name, TensorMemory.Of(value ?? throw new ArgumentNullException(nameof(value))), shape)
    {
        gradient = TensorMemory.Of(new float[value.Length]);
    }

    /// <summary>Creates an fp64 parameter over <paramref name="value"/>; the gradient starts as a new zero array.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> or <paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentException">The shape is empty, has a non-positive dimension, or does not match the value length.</exception>
    public Parameter(string name, double[] value, params int[] shape)
        : this(name, TensorMemory.Of(value ?? throw new ArgumentNullException(nameof(value))), shape)
    {
        gradient = TensorMemory.Of(new double[value.Length]);
    }

    private Parameter(string name, TensorMemory value, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0 || shape.Any(d => d <= 0))
        {
            throw new ArgumentException($"Parameter '{name}' needs positive dimensions, got [{string.Join(",", shape)}].", nameof(shape));
        }

        var count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != value.Length)
        {
            throw new ArgumentException($"Parameter '{name}' has {value.Length} values but shape [{string.Join(",", shape)}] holds {count}.", nameof(value));
        }

        Name = name;
        this.value = value;
        Shape = (int[])shape.Clone();
    }

    /// <summary>An fp32 parameter over caller memory; the gradient must be bound with <see cref="BindGradient(Memory{float})"/>
    /// (or another overload) before the first step, until then it is a zero array of the same length.</summary>
    /// <exception cref="ArgumentException">The shape is invalid or does not match the memory's length.</exception>
    public static Parameter FromMemory(string name, Memory<float> value, params int[] shape)
    {
        var p = new Parameter(name, TensorMemory.Of(value), shape);
        p.gradient = TensorMemory.Of(new float[value.Length]);
        return p;
    }

    /// <summary>An fp64 parameter over caller memory (see <see cref="FromMemory(string, Memory{float}, int[])"/>).</summary>
    /// <exception cref="ArgumentException">The shape is invalid or does not match the memory's length.</exception>
    public static Parameter FromMemory(string name, Memory<double> value, params int[] shape)
    {
        var p = new Parameter(name, TensorMemory.Of(value), shape);
        p.gradient = TensorMemory.Of(new double[value.Length]);
        return p;
    }

    /// <summary>A parameter over native memory of <paramref name="length"/> elements of <paramref name="precision"/> at
    /// <paramref name="value"/>; the caller owns that memory and keeps it valid while an optimizer may step or export.
    /// The gradient starts as a zero array; bind the caller's with <see cref="BindGradient(nint, int)"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is zero.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is not positive, or the precision is unknown.</exception>
    /// <exception cref="ArgumentException">The shape is invalid or does not hold <paramref name="length"/> elements.</exception>
    public static Parameter FromPointer(string name, nint value, int length, ParameterPrecision precision, params int[] shape)
    {
        CheckPointer(name, value, length, precision);
        var p = new Parameter(name, TensorMemory.Native(value, length, precision), shape);
        p.gradient = precision == ParameterPrecision.Single ? TensorMemory.Of(new float[length]) : TensorMemory.Of(new double[length]);
        return p;
    }

    /// <summary>A stable name, used in checkpoints and reports.</summary>
    public string Name { get; }

    /// <summary>Whether values and gradient are fp32 or fp64.</summary>
    public ParameterPrecision ElementType => value.Precision;

    /// <summary>The values of an fp32 parameter built over an array, updated in place by optimizers.</summary>
    /// <exception cref="InvalidOperationException">The values are fp64, a <see cref="Memory{T}"/> or native memory; use
    /// <see cref="GetValues{T}"/>.</exception>
    public float[] Value => value.Array as float[] ?? throw new InvalidOperationException(
        $"Parameter '{Name}' is not backed by a float[] ({Describe(value)}); use GetValues<T>().");

    /// <summary>The gradient of an fp32 parameter while it is an array, written by the model's backward pass.</summary>
    /// <remarks>Setting binds a new gradient array (as <see cref="BindGradient(float[])"/>, except that the length is
    /// checked by <see cref="IOptimizer.Step"/>: a wrong length throws there, before any optimizer state changes).</remarks>
    /// <exception cref="ArgumentNullException">Set to null.</exception>
    /// <exception cref="InvalidOperationException">Read while the gradient is not a float[]; set on an fp64 parameter.</exception>
    public float[] Gradient
    {
        get => gradient.Array as float[] ?? throw new InvalidOperationException(
            $"The gradient of parameter '{Name}' is not a float[] ({Describe(gradient)}); use GetGradient<T>().");
        set
        {
            ArgumentNullException.ThrowIfNull(value, nameof(value));
            RequirePrecision(ParameterPrecision.Single);
            gradient = TensorMemory.Of(value);
        }
    }

    /// <summary>The tensor shape.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Rows of the matrix view (first dimension; 1 for vectors).</summary>
    public int MatrixRows => Shape.Count >= 2 ? Shape[0] : 1;

    /// <summary>Columns of the matrix view (product of trailing dimensions).</summary>
    public int MatrixCols => Length / MatrixRows;

    /// <summary>Whether the optimizer treats this as a matrix (rank ≥ 2 with both sides &gt; 1).</summary>
    public bool IsMatrix => Shape.Count >= 2 && MatrixRows > 1 && MatrixCols > 1;

    /// <summary>Number of elements.</summary>
    public int Length => value.Length;

    /// <summary>The values, in place, as <typeparamref name="T"/> (<see cref="float"/> or <see cref="double"/>, matching
    /// <see cref="ElementType"/>). Allocates nothing.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the element type.</exception>
    /// <exception cref="ObjectDisposedException">The memory behind the values was disposed.</exception>
    public Span<T> GetValues<T>() where T : unmanaged
    {
        RequireType<T>();
        return value.Span<T>();
    }

    /// <summary>The gradient, in place, as <typeparamref name="T"/> (see <see cref="GetValues{T}"/>).</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the element type.</exception>
    /// <exception cref="ObjectDisposedException">The memory behind the gradient was disposed.</exception>
    public Span<T> GetGradient<T>() where T : unmanaged
    {
        RequireType<T>();
        return gradient.Span<T>();
    }

    /// <summary>Binds an fp32 gradient array (see <see cref="BindGradient(Memory{float})"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">Its length differs from <see cref="Length"/>.</exception>
    /// <exception cref="InvalidOperationException">The parameter is fp64.</exception>
    public void BindGradient(float[] gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        Bind(TensorMemory.Of(gradient), ParameterPrecision.Single);
    }

    /// <summary>Binds an fp64 gradient array (see <see cref="BindGradient(Memory{float})"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">Its length differs from <see cref="Length"/>.</exception>
    /// <exception cref="InvalidOperationException">The parameter is fp32.</exception>
    public void BindGradient(double[] gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        Bind(TensorMemory.Of(gradient), ParameterPrecision.Double);
    }

    /// <summary>Binds the fp32 gradient the next steps read, in place, until another is bound. Nothing is copied; the
    /// caller keeps the memory valid while an optimizer may step.</summary>
    /// <exception cref="ArgumentException">Its length differs from <see cref="Length"/>.</exception>
    /// <exception cref="InvalidOperationException">The parameter is fp64.</exception>
    public void BindGradient(Memory<float> gradient) => Bind(TensorMemory.Of(gradient), ParameterPrecision.Single);

    /// <summary>Binds an fp64 gradient (see <see cref="BindGradient(Memory{float})"/>).</summary>
    /// <exception cref="ArgumentException">Its length differs from <see cref="Length"/>.</exception>
    /// <exception cref="InvalidOperationException">The parameter is fp32.</exception>
    public void BindGradient(Memory<double> gradient) => Bind(TensorMemory.Of(gradient), ParameterPrecision.Double);

    /// <summary>Binds a gradient in native memory: <paramref name="length"/> elements of <see cref="ElementType"/> at
    /// <paramref name="gradient"/>, owned by the caller (see <see cref="BindGradient(Memory{float})"/>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is zero.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="length"/> differs from <see cref="Length"/>.</exception>
    public void BindGradient(nint gradient, int length)
    {
        CheckPointer(Name, gradient, length, ElementType);
        Bind(TensorMemory.Native(gradient, length, ElementType), ElementType);
    }

    /// <summary>Throws unless values and gradient are usable: memory not disposed, lengths equal, no overlap.</summary>
    internal void CheckBuffers()
    {
        Span<byte> v, g;
        try
        {
            v = value.Bytes();
        }
        catch (ObjectDisposedException e)
        {
            throw new ObjectDisposedException($"The memory behind the values of parameter '{Name}' was disposed. No optimizer state was changed.", e);
        }

        try
        {
            g = gradient.Bytes();
        }
        catch (ObjectDisposedException e)
        {
            throw new ObjectDisposedException($"The memory behind the gradient of parameter '{Name}' was disposed. No optimizer state was changed.", e);
        }

        if (gradient.Length != Length || g.Length != v.Length)
        {
            throw new ArgumentException(
                $"The gradient of parameter '{Name}' has {gradient.Length} elements; the parameter [{string.Join("×", Shape)}] has {Length}. No optimizer state was changed.");
        }

        if (v.Overlaps(g))
        {
            throw new ArgumentException($"The values and the gradient of parameter '{Name}' overlap in memory. No optimizer state was changed.");
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} [{string.Join("×", Shape)}]";

    private void Bind(TensorMemory memory, ParameterPrecision precision)
    {
        RequirePrecision(precision);
        if (memory.Length != Length)
        {
            throw new ArgumentException(
                $"The gradient bound to parameter '{Name}' has {memory.Length} elements; the parameter [{string.Join("×", Shape)}] has {Length}.", nameof(memory));
        }

        gradient = memory;
    }

    private void RequirePrecision(ParameterPrecision precision)
    {
        if (precision != ElementType)
        {
            throw new InvalidOperationException($"Parameter '{Name}' is {ElementType}; a {precision} gradient cannot be bound to it.");
        }
    }

    private void RequireType<T>()
    {
        var expected = ElementType == ParameterPrecision.Single ? typeof(float) : typeof(double);
        if (typeof(T) != expected)
        {
            throw new InvalidOperationException($"Parameter '{Name}' holds {expected.Name} elements, not {typeof(T).Name}.");
        }
    }

    private static void CheckPointer(string name, nint pointer, int length, ParameterPrecision precision)
    {
        if (pointer == 0)
        {
            throw new ArgumentNullException(nameof(pointer), $"Parameter '{name}' needs a non-null pointer.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (precision is not (ParameterPrecision.Single or ParameterPrecision.Double))
        {
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown parameter precision.");
        }
    }

    private static string Describe(TensorMemory m) =>
        m.IsNative ? $"native {m.Precision} memory" : m.Array is null ? $"a Memory of {m.Precision}" : $"an array of {m.Precision}";
}
