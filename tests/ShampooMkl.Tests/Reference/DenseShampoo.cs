namespace ShampooMkl.Tests.Reference;

/// <summary>Shampoo computed the slow way: dense factors, Jacobi roots, explicit products. Independent of the library.</summary>
internal static class DenseShampoo
{
    /// <summary>L and R after the given gradients, with β₂ (1 = sums) and the bias-correction divisor.</summary>
    public static (double[] L, double[] R, double Correction) Factors(IReadOnlyList<double[]> gradients, int m, int n, double beta2)
    {
        var l = new double[m * m];
        var r = new double[n * n];
        var add = beta2 == 1.0 ? 1.0 : 1.0 - beta2;
        foreach (var g in gradients)
        {
            var ggt = DenseMatrix.Multiply(g, m, n, DenseMatrix.Transpose(g, m, n), n, m);
            var gtg = DenseMatrix.Multiply(DenseMatrix.Transpose(g, m, n), n, m, g, m, n);
            for (var i = 0; i < l.Length; i++)
            {
                l[i] = (beta2 * l[i]) + (add * ggt[i]);
            }

            for (var i = 0; i < r.Length; i++)
            {
                r[i] = (beta2 * r[i]) + (add * gtg[i]);
            }
        }

        var correction = beta2 == 1.0 ? 1.0 : 1.0 - Math.Pow(beta2, gradients.Count);
        return (l, r, correction);
    }

    /// <summary>(A + εI)^{-1/p} with eigenvalues clamped at zero, by Jacobi.</summary>
    public static double[] InverseRoot(double[] a, int n, double root, double epsilon) =>
        JacobiEigen.MatrixFunction(a, n, lambda => Math.Pow(Math.Max(lambda, 0) + epsilon, -1.0 / root));

    /// <summary>s · (L/c + εI)^{-1/p} · G · (R/c + εI)^{-1/p}, s = Tr(L/c)^{1/p} when trace-normalised.</summary>
    public static double[] Direction(IReadOnlyList<double[]> history, double[] gradient, int m, int n,
        double root, double epsilon, double beta2, bool traceNormalized)
    {
        var (l, r, c) = Factors(history, m, n, beta2);
        l = DenseMatrix.Scale(l, 1 / c);
        r = DenseMatrix.Scale(r, 1 / c);
        var lr = InverseRoot(l, m, root, epsilon);
        var rr = InverseRoot(r, n, root, epsilon);
        var d = DenseMatrix.Multiply(DenseMatrix.Multiply(lr, m, m, gradient, m, n), m, n, rr, n, n);
        var s = traceNormalized ? Math.Pow(DenseMatrix.Trace(l, m), 1.0 / root) : 1.0;
        return DenseMatrix.Scale(d, s);
    }
}
