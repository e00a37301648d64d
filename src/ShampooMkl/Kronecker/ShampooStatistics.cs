using System.Numerics.Tensors;
using ShampooMkl.Linalg;

namespace ShampooMkl.Kronecker;

/// <summary>Shampoo's statistics of a gradient sample: L = Σ wᵢ GᵢGᵢᵀ (m×m), R = Σ wᵢ GᵢᵀGᵢ (n×n), and Tr(H) = Tr(L) = Tr(R).</summary>
public sealed class ShampooStatistics
{
    /// <summary>Largest asymmetry |xᵢⱼ − xⱼᵢ| a factor may have, relative to its Frobenius norm ‖x‖_F.</summary>
    /// <remarks>Round-off of a factor computed in fp32 (e.g. a gemm G·Gᵀ, whose two triangles are summed in different
    /// orders; ε = 6·10⁻⁸ per operation) stays far below it; a matrix that is not meant to be symmetric does not.</remarks>
    public const double SymmetryTolerance = 1e-5;

    /// <summary>Wraps L (m×m) and R (n×n), e.g. computed from another representation of the gradients; not copied
    /// when exactly symmetric.</summary>
    /// <remarks>A factor whose asymmetry is round-off (every |xᵢⱼ − xⱼᵢ| ≤ <see cref="SymmetryTolerance"/>·‖x‖_F, as
    /// after an fp32 gemm) is replaced by a symmetrised copy (x + xᵀ)/2, so <see cref="L"/> or <see cref="R"/> is then
    /// not the caller's array (which is left unchanged); a larger asymmetry is rejected.</remarks>
    /// <param name="left">L, row-major, symmetric PSD.</param>
    /// <param name="right">R, row-major, symmetric PSD.</param>
    /// <param name="rows">m ≥ 1.</param>
    /// <param name="cols">n ≥ 1.</param>
    /// <exception cref="ArgumentException">A factor of the wrong size, with a NaN or infinite value, or not symmetric
    /// (an entry differs from its mirror by more than <see cref="SymmetryTolerance"/>·‖x‖_F).</exception>
    public ShampooStatistics(double[] left, double[] right, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        L = Symmetric(left, rows, nameof(left));
        R = Symmetric(right, cols, nameof(right));
        Rows = rows;
        Cols = cols;
        Trace = KroneckerPair.TraceOf(L, rows);
    }

    /// <summary>L = E[G Gᵀ] (m×m, row-major, symmetric).</summary>
    public double[] L { get; }

    /// <summary>R = E[Gᵀ G] (n×n, row-major, symmetric).</summary>
    public double[] R { get; }

    /// <summary>m.</summary>
    public int Rows { get; }

    /// <summary>n.</summary>
    public int Cols { get; }

    /// <summary>Tr(H) = E‖G‖²_F, taken as Tr(L).</summary>
    public double Trace { get; }

    /// <summary>Validates a factor and returns it, or its symmetrised copy if it is symmetric only up to round-off.</summary>
    private static double[] Symmetric(double[] x, int order, string name)
    {
        if (x.Length != (long)order * order)
        {
            throw new ArgumentException($"A {order}×{order} factor needs {(long)order * order} values; got {x.Length}.", name);
        }

        if (!FiniteCheck.All<double>(x))
        {
            throw new ArgumentException("The factor contains NaN or infinite values.", name);
        }

        var tolerance = SymmetryTolerance * TensorPrimitives.Norm<double>(x);
        var exact = true;
        for (var i = 0; i < order; i++)
        {
            for (var j = i + 1; j < order; j++)
            {
                var difference = Math.Abs(x[(i * order) + j] - x[(j * order) + i]);
                if (!(difference <= tolerance))
                {
                    throw new ArgumentException(
                        $"The factor is not symmetric: entries ({i}, {j}) and ({j}, {i}) differ by {difference:G3}, more than " +
                        $"{SymmetryTolerance:G1} of its norm ({tolerance:G3}).", name);
                }

                exact &= difference == 0;
            }
        }

        if (exact)
        {
            return x;
        }

        var symmetric = new double[x.Length];
        for (var i = 0; i < order; i++)
        {
            symmetric[(i * order) + i] = x[(i * order) + i];
            for (var j = i + 1; j < order; j++)
            {
                symmetric[(i * order) + j] = symmetric[(j * order) + i] = 0.5 * (x[(i * order) + j] + x[(j * order) + i]);
            }
        }

        return symmetric;
    }
}
