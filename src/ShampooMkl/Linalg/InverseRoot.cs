using System.Numerics.Tensors;
using ShampooMkl.Memory;

namespace ShampooMkl.Linalg;

/// <summary>Computes (A + εI)^{-1/p} of a symmetric PSD matrix via its eigendecomposition (or, on request, the coupled
/// Newton iteration), always in fp64.</summary>
/// <remarks>
/// Eigenvalues are clamped at zero before ε is added, because round-off makes a PSD statistic's small
/// eigenvalues slightly negative and a negative base has no real root. fp32 inputs are promoted:
/// the root of a statistic with condition number near 1/ε_fp32 is meaningless in fp32.
/// Scratch memory is rented per call from the pool (so many roots can share it across blocks);
/// only the eigenbasis kept for warm starts lives with the instance.
/// </remarks>
internal sealed class InverseRoot : IDisposable
{
    private readonly BlasBackend blas;
    private readonly BufferPool pool;
    private readonly SymmetricEigen<double> eigen;
    private QrFactorization<double>? qr;
    private CoupledNewtonInverseRoot? coupledNewton;
    private AlignedArray<double>? eigenbasis;
    private readonly AlignedArray<double> eigenvalues;

    /// <summary>Prepares roots of n×n matrices.</summary>
    public InverseRoot(int order, BlasBackend? blas = null, BufferPool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        Order = order;
        this.blas = BlasGuard.Resolve(blas);
        this.pool = pool ?? BufferPool.Shared;
        eigen = new SymmetricEigen<double>(order, this.blas, this.pool);
        eigenvalues = new AlignedArray<double>(order);
    }

    /// <summary>The matrix order n.</summary>
    public int Order { get; }

    /// <summary>Whether an eigenbasis from a previous success is available for a warm start.</summary>
    public bool HasEigenbasis { get; private set; }

    /// <summary>Eigenvalues (before clamping and ε) of the last successful computation.</summary>
    public ReadOnlySpan<double> Eigenvalues => eigenvalues.Span;

    /// <summary>Writes (A + εI)^{-1/p} into <paramref name="result"/>.</summary>
    /// <param name="matrix">Symmetric PSD n×n input; it is not modified.</param>
    /// <param name="root">p &gt; 0 (4 for Shampoo, 2 for Shampoo²).</param>
    /// <param name="epsilon">ε ≥ 0 added to the clamped eigenvalues; with ε = 0 a singular input yields <see cref="InverseRootStatus.NonFiniteResult"/>.</param>
    /// <param name="result">n×n output, written only on success.</param>
    /// <param name="method">Full eigendecomposition, a warm start from the previous eigenbasis, or the coupled Newton iteration.</param>
    /// <exception cref="ArgumentException">Wrong shapes, p ≤ 0, ε &lt; 0, or a non-integer p with <see cref="InverseRootMethod.CoupledNewton"/>.</exception>
    public InverseRootStatus Compute<T>(ReadOnlyMatrixView<T> matrix, double root, double epsilon, MatrixView<T> result,
        InverseRootMethod method = InverseRootMethod.Eigendecomposition)
        where T : unmanaged
    {
        BlasGuard.EnsureSupported<T>();
        var n = Order;
        if (matrix.Rows != n || matrix.Cols != n || result.Rows != n || result.Cols != n)
        {
            throw new ArgumentException($"InverseRoot of order {n} got input {matrix.Rows}×{matrix.Cols} and output {result.Rows}×{result.Cols}.");
        }

        if (!(root > 0) || double.IsInfinity(root))
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, "The root p must be a positive finite number.");
        }

        if (!(epsilon >= 0) || double.IsInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be a non-negative finite number.");
        }

        if (method == InverseRootMethod.CoupledNewton)
        {
            return ComputeCoupledNewton(matrix, root, epsilon, result);
        }

        using var inputBuffer = pool.Rent<double>(n * n);
        using var basisBuffer = pool.Rent<double>(n * n);
        using var scaledBuffer = pool.Rent<double>(n * n);
        using var valuesBuffer = pool.Rent<double>(n);
        var input = new MatrixView<double>(inputBuffer.Span, n, n);
        var basis = new MatrixView<double>(basisBuffer.Span, n, n);
        var scaled = new MatrixView<double>(scaledBuffer.Span, n, n);
        var values = valuesBuffer.Span;

        var warm = method == InverseRootMethod.EigenbasisWarmStart && HasEigenbasis;
        // syevd overwrites its input with the eigenvectors, so a full decomposition promotes straight into the basis
        // (one n² copy less); the warm start multiplies by the input and keeps it apart.
        if (!Promote(matrix, warm ? input : basis))
        {
            return InverseRootStatus.NonFiniteInput;
        }

        if (warm)
        {
            // Subspace iteration step: rows of (E·A) span A·(previous eigenvectors); re-orthonormalise them.
            // QR orthonormalises in row order, and orthogonal iteration only contracts the error of a pair
            // (i, j) by λ_small/λ_large when the dominant direction comes first; in syevd's ascending order the
            // same step amplifies it by λ_large/λ_small. So the rows go in descending order, and back afterwards.
            var previous = new ReadOnlyMatrixView<double>(eigenbasis!.Span, n, n);
            MatrixProduct.Multiply(previous, false, input, false, scaled, 1.0, 0.0, blas);
            ReverseRows(scaled, basis);
            qr ??= new QrFactorization<double>(n, blas, pool);
            if (qr.OrthonormalizeRows(basis) != 0)
            {
                return InverseRootStatus.DecompositionFailed;
            }

            ReverseRows(basis, scaled);
            scaled.Data.CopyTo(basis.Data);

            // Rayleigh quotients λ_k = e_kᵀ A e_k from W = E·A.
            MatrixProduct.Multiply(basis, false, input, false, scaled, 1.0, 0.0, blas);
            for (var k = 0; k < n; k++)
            {
                values[k] = TensorPrimitives.Dot(scaled.Row(k), basis.Row(k));
            }
        }
        else
        {
            if (eigen.Decompose(basis, values) != 0)
            {
                return InverseRootStatus.DecompositionFailed;
            }
        }

        if (!FiniteCheck.All(values))
        {
            return InverseRootStatus.DecompositionFailed;
        }

        // Eᵀ·D·E = (D^{1/2}E)ᵀ(D^{1/2}E): one syrk instead of two gemms, and exactly symmetric.
        var exponent = -0.5 / root;
        for (var k = 0; k < n; k++)
        {
            var s = Math.Pow(Math.Max(values[k], 0.0) + epsilon, exponent);
            TensorPrimitives.Multiply(basis.Row(k), s, scaled.Row(k));
        }

        SymmetricRankUpdate.Update<double>(scaled, transpose: true, input, 1.0, 0.0, mirrorLower: true, blas);
        // An fp32 output must also fit in fp32, or the down-conversion would write ±∞ after this check.
        if (!FiniteCheck.All(input.Data) ||
            (typeof(T) == typeof(float) && TensorPrimitives.MaxMagnitude<double>(input.Data) > float.MaxValue))
        {
            return InverseRootStatus.NonFiniteResult;
        }

        Demote(input, result);
        values.CopyTo(eigenvalues.Span);
        if (method == InverseRootMethod.EigenbasisWarmStart)
        {
            eigenbasis ??= new AlignedArray<double>(n * n);
            basis.Data.CopyTo(eigenbasis.Span);
            HasEigenbasis = true;
        }

        return InverseRootStatus.Success;
    }

    /// <summary>Forgets the warm-start eigenbasis (e.g. after the statistics were replaced).</summary>
    public void ResetEigenbasis() => HasEigenbasis = false;

    /// <summary>The <see cref="InverseRootMethod.CoupledNewton"/> path; leaves the eigenbasis and eigenvalues as they were.</summary>
    private InverseRootStatus ComputeCoupledNewton<T>(ReadOnlyMatrixView<T> matrix, double root, double epsilon, MatrixView<T> result)
        where T : unmanaged
    {
        if (root != Math.Floor(root) || root > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, "The coupled Newton iteration needs an integer root p.");
        }

        coupledNewton ??= new CoupledNewtonInverseRoot(Order, blas: blas, pool: pool);
        return coupledNewton.Compute(matrix, (int)root, epsilon, result).Status switch
        {
            CoupledNewtonStatus.Converged => InverseRootStatus.Success,
            CoupledNewtonStatus.NotConverged => InverseRootStatus.NotConverged,
            CoupledNewtonStatus.NonFiniteInput => InverseRootStatus.NonFiniteInput,
            _ => InverseRootStatus.NonFiniteResult,
        };
    }

    /// <summary>The retained eigenbasis (rows are eigenvectors), empty when there is none; checkpoints save it
    /// because a warm start from it is part of the optimizer's trajectory.</summary>
    public ReadOnlySpan<double> Eigenbasis => HasEigenbasis ? eigenbasis!.Span : ReadOnlySpan<double>.Empty;

    /// <summary>Installs an eigenbasis saved by <see cref="Eigenbasis"/>; an empty span clears it.</summary>
    /// <exception cref="ArgumentException">Not n×n.</exception>
    public void RestoreEigenbasis(ReadOnlySpan<double> basis)
    {
        if (basis.IsEmpty)
        {
            HasEigenbasis = false;
            return;
        }

        if (basis.Length != Order * Order)
        {
            throw new ArgumentException($"An eigenbasis of order {Order} has {Order * Order} values, got {basis.Length}.", nameof(basis));
        }

        eigenbasis ??= new AlignedArray<double>(Order * Order);
        basis.CopyTo(eigenbasis.Span);
        HasEigenbasis = true;
    }

    private static void ReverseRows(MatrixView<double> source, MatrixView<double> target)
    {
        for (var k = 0; k < source.Rows; k++)
        {
            source.Row(source.Rows - 1 - k).CopyTo(target.Row(k));
        }
    }

    private static bool Promote<T>(ReadOnlyMatrixView<T> source, MatrixView<double> target) where T : unmanaged
    {
        for (var i = 0; i < source.Rows; i++)
        {
            var dst = target.Row(i);
            if (typeof(T) == typeof(double))
            {
                System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(source.Row(i)).CopyTo(dst);
            }
            else
            {
                TensorPrimitives.ConvertChecked(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(source.Row(i)), dst);
            }

            if (!FiniteCheck.All(dst))
            {
                return false;
            }
        }

        return true;
    }

    private static void Demote<T>(MatrixView<double> source, MatrixView<T> target) where T : unmanaged
    {
        for (var i = 0; i < source.Rows; i++)
        {
            if (typeof(T) == typeof(double))
            {
                source.Row(i).CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(target.Row(i)));
            }
            else
            {
                TensorPrimitives.ConvertTruncating(source.Row(i), System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(target.Row(i)));
            }
        }
    }

    /// <summary>Releases the solver workspaces and the retained eigenbasis.</summary>
    public void Dispose()
    {
        eigen.Dispose();
        qr?.Dispose();
        eigenbasis?.Dispose();
        eigenvalues.Dispose();
    }
}
