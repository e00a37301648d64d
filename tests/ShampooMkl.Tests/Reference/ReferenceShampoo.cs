using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Reference;

/// <summary>The Shampoo optimizer the slow, obvious way: dense fp64 factors, Jacobi roots, explicit loops.</summary>
/// <remarks>
/// Written from the formulas in <see cref="Shampoo"/>'s documentation, not from its code: its own block partition,
/// its own Adagrad/RMSprop/Adam accumulators, roots as f(L/c) with f(λ) = (max(λ,0) + ε)^{-1/p} by Jacobi, and
/// every product as a triple loop. Parameters are rounded to fp32 after each step, as the optimizer's are.
/// </remarks>
internal sealed class ReferenceShampoo
{
    private readonly ShampooOptions o;
    private readonly List<Tensor> tensors = new();
    private long step;

    public ReferenceShampoo(ShampooOptions options, IEnumerable<(int[] Shape, float[] Value)> parameters)
    {
        o = options;
        foreach (var (shape, value) in parameters)
        {
            tensors.Add(new Tensor(shape, value, options));
        }
    }

    public float[] Value(int index) => tensors[index].W;

    public void Step(IReadOnlyList<float[]> gradients)
    {
        step++;
        var t = step;
        var start = o.StartPreconditioningStep ?? o.PreconditionFrequency;
        var refresh = t == start || (t > start && t % o.PreconditionFrequency == 0);
        var lr = o.LearningRate * Schedule(t);
        for (var k = 0; k < tensors.Count; k++)
        {
            tensors[k].Step(gradients[k].Select(x => (double)x).ToArray(), t, refresh, t >= start, lr);
        }
    }

    /// <summary>Warm-up then cosine, written out again rather than calling the library's schedule.</summary>
    private double Schedule(long t)
    {
        var s = o.Schedule;
        if (s.WarmupSteps > 0 && t <= s.WarmupSteps)
        {
            return t / (double)s.WarmupSteps;
        }

        if (s.TotalSteps == 0)
        {
            return 1;
        }

        var q = Math.Min(1.0, (t - s.WarmupSteps) / (double)(s.TotalSteps - s.WarmupSteps));
        return s.FinalFactor + ((1 - s.FinalFactor) * (1 + Math.Cos(Math.PI * q)) / 2);
    }

    private sealed class Tensor
    {
        private readonly ShampooOptions o;
        private readonly int rows;
        private readonly int cols;
        private readonly bool matrix;
        private readonly List<Block> blocks = new();
        private readonly double[] diagonal;
        private readonly double[] graft;
        private readonly double[] momentum;

        public Tensor(int[] shape, float[] value, ShampooOptions options)
        {
            o = options;
            W = (float[])value.Clone();
            var count = shape.Aggregate(1, (a, b) => a * b);
            rows = shape.Length >= 2 ? shape[0] : 1;
            cols = count / rows;
            matrix = shape.Length >= 2 && rows > 1 && cols > 1;
            if (matrix)
            {
                var d = o.MaxPreconditionerDim;
                for (var r0 = 0; r0 < rows; r0 += d)
                {
                    for (var c0 = 0; c0 < cols; c0 += d)
                    {
                        blocks.Add(new Block(r0, c0, Math.Min(d, rows - r0), Math.Min(d, cols - c0)));
                    }
                }
            }

            diagonal = new double[count];
            graft = new double[count];
            momentum = new double[count];
        }

        public float[] W { get; }

        public void Step(double[] g, long t, bool refresh, bool precondition, double lr)
        {
            // (b) statistics: every block's L and R, the diagonal second moment, the grafting accumulator.
            var add2 = o.Beta2 == 1 ? 1 : 1 - o.Beta2;
            foreach (var b in blocks)
            {
                var gb = b.Slice(g, cols);
                var ggt = DenseMatrix.Multiply(gb, b.Rows, b.Cols, DenseMatrix.Transpose(gb, b.Rows, b.Cols), b.Cols, b.Rows);
                var gtg = DenseMatrix.Multiply(DenseMatrix.Transpose(gb, b.Rows, b.Cols), b.Cols, b.Rows, gb, b.Rows, b.Cols);
                b.L = b.L.Zip(ggt, (l, x) => (o.Beta2 * l) + (add2 * x)).ToArray();
                b.R = b.R.Zip(gtg, (r, x) => (o.Beta2 * r) + (add2 * x)).ToArray();
            }

            for (var i = 0; i < g.Length; i++)
            {
                diagonal[i] = (o.Beta2 * diagonal[i]) + (add2 * g[i] * g[i]);
            }

            var graftBeta = o.Grafting switch
            {
                GraftingType.RmsProp => o.GraftingBeta2 ?? 0.99,
                GraftingType.Adam => o.GraftingBeta2 ?? 0.999,
                _ => 1.0,
            };
            for (var i = 0; i < g.Length; i++)
            {
                graft[i] = (graftBeta * graft[i]) + ((graftBeta == 1 ? 1 : 1 - graftBeta) * g[i] * g[i]);
            }

            var c2 = o.BiasCorrection && o.Beta2 < 1 ? 1 - Math.Pow(o.Beta2, t) : 1.0;

            // (c) roots by Jacobi.
            if (refresh)
            {
                foreach (var b in blocks)
                {
                    b.LRoot = Root(DenseMatrix.Scale(b.L, 1 / c2), b.Rows);
                    b.RRoot = Root(DenseMatrix.Scale(b.R, 1 / c2), b.Cols);
                    b.Scale = o.TraceNormalized ? Math.Pow(DenseMatrix.Trace(b.L, b.Rows) / c2, 1 / o.Root) : 1.0;
                }
            }

            // (d) direction, grafted per block.
            var graftDirection = GraftingDirection(g, t);
            double[] d;
            if (!precondition)
            {
                d = graftDirection;
            }
            else if (matrix)
            {
                d = new double[g.Length];
                foreach (var b in blocks)
                {
                    var gb = b.Slice(g, cols);
                    var db = b.LRoot is null
                        ? gb
                        : DenseMatrix.Scale(
                            DenseMatrix.Multiply(DenseMatrix.Multiply(b.LRoot, b.Rows, b.Rows, gb, b.Rows, b.Cols), b.Rows, b.Cols, b.RRoot!, b.Cols, b.Cols),
                            b.Scale);
                    db = Graft(db, b.Slice(graftDirection, cols));
                    b.Write(db, d, cols);
                }
            }
            else
            {
                d = new double[g.Length];
                for (var i = 0; i < g.Length; i++)
                {
                    d[i] = g[i] / (Math.Sqrt(diagonal[i] / c2) + o.DiagonalEpsilon);
                }

                d = Graft(d, graftDirection);
            }

            // (e) momentum, (f, g) decay and update, rounded to fp32 like the parameters.
            var c1 = o.BiasCorrection ? 1 - Math.Pow(o.Beta1, t) : 1.0;
            for (var i = 0; i < g.Length; i++)
            {
                var u = d[i];
                if (o.Beta1 > 0)
                {
                    momentum[i] = (o.Beta1 * momentum[i]) + ((1 - o.Beta1) * d[i]);
                    u = o.Nesterov ? (o.Beta1 / c1 * momentum[i]) + ((1 - o.Beta1) * d[i]) : momentum[i] / c1;
                }

                W[i] = (float)((W[i] * (1 - (lr * o.WeightDecay))) - (lr * u));
            }
        }

        private double[] Root(double[] a, int n) =>
            JacobiEigen.MatrixFunction(a, n, lambda => Math.Pow(Math.Max(lambda, 0) + o.Epsilon, -1 / o.Root));

        /// <summary>The grafted method's own step on the whole tensor.</summary>
        private double[] GraftingDirection(double[] g, long t)
        {
            if (o.Grafting is GraftingType.None or GraftingType.Sgd)
            {
                return (double[])g.Clone();
            }

            var eps = o.GraftingEpsilon ?? (o.Grafting == GraftingType.Adagrad ? 1e-10 : 1e-8);
            var c = o.Grafting == GraftingType.Adam ? 1 - Math.Pow(o.GraftingBeta2 ?? 0.999, t) : 1.0;
            return g.Select((x, i) => x / (Math.Sqrt(graft[i] / c) + eps)).ToArray();
        }

        private double[] Graft(double[] direction, double[] graftDirection)
        {
            if (o.Grafting == GraftingType.None)
            {
                return direction;
            }

            var norm = DenseMatrix.FrobeniusNorm(direction);
            return norm == 0 ? direction : DenseMatrix.Scale(direction, DenseMatrix.FrobeniusNorm(graftDirection) / norm);
        }
    }

    private sealed class Block(int row, int col, int rows, int cols)
    {
        public int Rows { get; } = rows;

        public int Cols { get; } = cols;

        public double[] L { get; set; } = new double[rows * rows];

        public double[] R { get; set; } = new double[cols * cols];

        public double[]? LRoot { get; set; }

        public double[]? RRoot { get; set; }

        public double Scale { get; set; } = 1;

        public double[] Slice(double[] whole, int wholeCols)
        {
            var part = new double[Rows * Cols];
            for (var i = 0; i < Rows; i++)
            {
                for (var j = 0; j < Cols; j++)
                {
                    part[(i * Cols) + j] = whole[((row + i) * wholeCols) + col + j];
                }
            }

            return part;
        }

        public void Write(double[] part, double[] whole, int wholeCols)
        {
            for (var i = 0; i < Rows; i++)
            {
                for (var j = 0; j < Cols; j++)
                {
                    whole[((row + i) * wholeCols) + col + j] = part[(i * Cols) + j];
                }
            }
        }
    }
}
