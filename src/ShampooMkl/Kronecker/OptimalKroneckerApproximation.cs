using System.Numerics.Tensors;
using ShampooMkl.Linalg;

namespace ShampooMkl.Kronecker;

/// <summary>argmin_{A,B} ‖H − A⊗B‖_F (Van Loan &amp; Pitsianis) by power iteration on R(H), computed from per-example gradients.</summary>
/// <remarks>
/// Each pass sets A_{t+1} ∝ R(H) vec(B_t) = Σ wᵢ Gᵢ B_t Gᵢᵀ and B_{t+1} ∝ R(H)ᵀ vec(A_t) = Σ wᵢ Gᵢᵀ A_t Gᵢ, both from the
/// previous iterate, normalised to unit Frobenius norm. Updating both from the previous pair is what makes the first
/// pass from (I, I) land exactly on Shampoo²'s (L, R) (docs/design.md, 'Conventions'), and it lets one read of the sample serve both sides.
/// The iterates stay symmetric PSD (the maps send PSD to PSD), so no sign can flip and the plain difference of
/// consecutive iterates measures convergence. A pass also yields ⟨H, A_t⊗B_t⟩ = ⟨A_t, R(H)vec(B_t)⟩ for free; the
/// returned pair's own σ costs one extra evaluation (two thirds of a pass) at the end.
/// </remarks>
public static class OptimalKroneckerApproximation
{
    /// <summary>Runs the power iteration on <paramref name="sample"/>.</summary>
    /// <exception cref="ArgumentException">Options out of range or a start pair of the wrong shape.</exception>
    /// <exception cref="InvalidOperationException">H is zero (or annihilates the start pair), so there is no direction to follow.</exception>
    public static OptimalKroneckerResult Compute<T>(GradientSample<T> sample, PowerIterationOptions? options = null, BlasBackend? blas = null)
        where T : unmanaged => Compute(sample, options, blas, chunkExamples: 0);

    /// <summary>Runs the power iteration on any representation of H that provides the two products and ⟨H, A⊗B⟩
    /// (same start, update, normalisation and stopping rule as for a <see cref="GradientSample{T}"/>).</summary>
    /// <exception cref="ArgumentException">Options out of range or a start pair of the wrong shape.</exception>
    /// <exception cref="InvalidOperationException">H is zero (or annihilates the start pair), so there is no direction to follow.</exception>
    public static OptimalKroneckerResult Compute(IKroneckerSample sample, PowerIterationOptions? options = null, BlasBackend? blas = null)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample is IKroneckerOperatorSource source)
        {
            // A GradientSample's own members build chunk buffers per call; one operator serves the whole run instead.
            using var op = source.CreateOperator();
            return Iterate(op, options, blas);
        }

        return Iterate(sample, options, blas);
    }

    /// <summary>The dense-gradient routine with the chunking (tests) and the reduction path (null: by cost) fixed.</summary>
    internal static OptimalKroneckerResult Compute<T>(GradientSample<T> sample, PowerIterationOptions? options, BlasBackend? blas, int chunkExamples,
        bool? factorGram = null)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(sample);

        // One operator for the whole run, so its chunk buffers serve every pass.
        using var op = new RearrangementOperator<T>(sample, chunkExamples, factorGram);
        return Iterate(op, options, blas);
    }

    private static OptimalKroneckerResult Iterate(IKroneckerSample sample, PowerIterationOptions? options, BlasBackend? blas)
    {
        options ??= new PowerIterationOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxIterations, 1, nameof(options.MaxIterations));
        if (!(options.Tolerance >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Tolerance, "The tolerance must be non-negative.");
        }

        int m = sample.Rows, n = sample.Cols;
        var a = new double[m * m];
        var b = new double[n * n];
        var nextA = new double[m * m];
        var nextB = new double[n * n];
        if (options.Start is { } start)
        {
            if (start.Rows != m || start.Cols != n)
            {
                throw new ArgumentException($"The start pair is for {start.Rows}×{start.Cols} gradients, the sample's are {m}×{n}.", nameof(options));
            }

            if (!IsSymmetric(start.A, m) || !IsSymmetric(start.B, n))
            {
                throw new ArgumentException("The start pair must be symmetric (PSD) like the iterates it stands in for.", nameof(options));
            }

            start.A.CopyTo(a, 0);
            start.B.CopyTo(b, 0);
        }
        else
        {
            SetIdentity(a, m);
            SetIdentity(b, n);
        }

        NormalizeOrThrow(a, "A₀");
        NormalizeOrThrow(b, "B₀");

        var history = new List<double>(options.MaxIterations);
        var change = double.PositiveInfinity;
        var converged = false;
        for (var t = 1; t <= options.MaxIterations; t++)
        {
            sample.Apply(a, b, nextA, nextB, blas);
            var previousInner = TensorPrimitives.Dot<double>(a, nextA);
            NormalizeOrThrow(nextA, "R(H)·vec(B)");
            NormalizeOrThrow(nextB, "R(H)ᵀ·vec(A)");
            change = TensorPrimitives.Distance<double>(nextA, a) + TensorPrimitives.Distance<double>(nextB, b);
            (a, nextA) = (nextA, a);
            (b, nextB) = (nextB, b);
            history.Add(change);
            options.Progress?.Invoke(new PowerIterationStep(t, change, previousInner));
            if (change <= options.Tolerance)
            {
                converged = true;
                break;
            }
        }

        var scale = sample.InnerProduct(a, b, blas);
        return new OptimalKroneckerResult(new KroneckerPair(a, m, b, n), scale, history.Count, change, converged, [.. history]);
    }

    private static void SetIdentity(double[] matrix, int order)
    {
        Array.Clear(matrix);
        for (var i = 0; i < order; i++)
        {
            matrix[(i * order) + i] = 1;
        }
    }

    private static bool IsSymmetric(double[] x, int order)
    {
        var tolerance = 1e-12 * TensorPrimitives.Norm<double>(x);
        for (var i = 0; i < order; i++)
        {
            for (var j = i + 1; j < order; j++)
            {
                if (!(Math.Abs(x[(i * order) + j] - x[(j * order) + i]) <= tolerance))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static void NormalizeOrThrow(double[] matrix, string what)
    {
        var norm = TensorPrimitives.Norm<double>(matrix);
        if (!(norm > 0) || !double.IsFinite(norm))
        {
            throw new InvalidOperationException($"{what} has Frobenius norm {norm}: H is zero or annihilates the iterate, so it has no Kronecker direction.");
        }

        TensorPrimitives.Multiply(matrix, 1 / norm, matrix);
    }
}
