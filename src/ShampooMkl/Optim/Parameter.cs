namespace ShampooMkl.Optim;

/// <summary>One trainable tensor: its values, its gradient (same length) and its shape, row-major.</summary>
/// <remarks>
/// The optimizer sees a tensor of rank ≥ 2 as a matrix of <c>Shape[0]</c> rows and the product of the
/// trailing dimensions as columns (as Distributed Shampoo merges dimensions); rank 1 and scalars are
/// vectors and get a diagonal preconditioner. Values and gradients are plain arrays so that a model can
/// hand them to BLAS through spans without copies.
/// </remarks>
public sealed class Parameter
{
    private float[] gradient;

    /// <summary>Creates a parameter; the gradient starts at zero.</summary>
    /// <exception cref="ArgumentException">The shape is empty, has a non-positive dimension, or does not match the value length.</exception>
    public Parameter(string name, float[] value, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(value);
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
        Value = value;
        gradient = new float[value.Length];
        Shape = (int[])shape.Clone();
    }

    /// <summary>A stable name, used in checkpoints and reports.</summary>
    public string Name { get; }

    /// <summary>The values, updated in place by optimizers.</summary>
    public float[] Value { get; }

    /// <summary>The gradient, written by the model's backward pass.</summary>
    /// <remarks>Settable so a framework can hand over its own gradient buffer instead of copying into ours; its length
    /// is checked by <see cref="IOptimizer.Step"/> (a wrong length throws before any optimizer state changes).</remarks>
    /// <exception cref="ArgumentNullException">Set to null.</exception>
    public float[] Gradient
    {
        get => gradient;
        set => gradient = value ?? throw new ArgumentNullException(nameof(value), $"Parameter '{Name}' needs a gradient array.");
    }

    /// <summary>The tensor shape.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Rows of the matrix view (first dimension; 1 for vectors).</summary>
    public int MatrixRows => Shape.Count >= 2 ? Shape[0] : 1;

    /// <summary>Columns of the matrix view (product of trailing dimensions).</summary>
    public int MatrixCols => Value.Length / MatrixRows;

    /// <summary>Whether the optimizer treats this as a matrix (rank ≥ 2 with both sides &gt; 1).</summary>
    public bool IsMatrix => Shape.Count >= 2 && MatrixRows > 1 && MatrixCols > 1;

    /// <summary>Number of elements.</summary>
    public int Length => Value.Length;

    /// <inheritdoc />
    public override string ToString() => $"{Name} [{string.Join("×", Shape)}]";
}
