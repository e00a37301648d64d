using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;
using MathNet.Numerics.LinearAlgebra.Factorization;
using ShampooMkl.Benchmarks.Infrastructure;
using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Benchmarks.Peers;

/// <summary>The peer port of our Shampoo step to Math.NET Numerics dense matrices (managed provider): the same
/// mathematics as <see cref="Shampoo"/> with <see cref="ModelWorkload.SteadyStateOptions"/>, written the way a Math.NET
/// user would, so its time says what our native binding buys.</summary>
/// <remarks>
/// Per step t: L += G·Gᵀ, R += Gᵀ·G per block (fp32, Math.NET has no syrk so these are full products); on a refresh,
/// L^{-1/4}, R^{-1/4} from a symmetric EVD in fp64 with eigenvalues clamped at 0 plus ε; D = L^{-1/4}·G·R^{-1/4};
/// Adagrad grafting per block (a += g² in fp64, D scaled to ‖g/(√a + ε_g)‖_F); vectors get g/(√v + ε) and the same
/// grafting; momentum m = β₁m + (1−β₁)D; W −= η·m/(1 − β₁ᵗ). Math.NET stores matrices column-major, so blocks are
/// copied in and out of the row-major parameter arrays (O(n²), as a real adapter would).
/// </remarks>
internal sealed class MathNetShampoo
{
    private readonly ShampooOptions options;
    private readonly State[] states;
    private long step;

    public MathNetShampoo(IReadOnlyList<Parameter> parameters, ShampooOptions options)
    {
        this.options = options;
        states = parameters.Select(p => new State(p, options.MaxPreconditionerDim)).ToArray();
    }

    public void Step(bool refresh)
    {
        step++;
        foreach (var s in states)
        {
            s.Accumulate();
        }

        if (refresh)
        {
            foreach (var block in states.SelectMany(s => s.Blocks))
            {
                block.LeftRoot = InverseRoot(block.L);
                block.RightRoot = InverseRoot(block.R);
            }
        }

        var graftEpsilon = options.EffectiveGraftingEpsilon;
        foreach (var s in states)
        {
            s.Direction(graftEpsilon, options.DiagonalEpsilon);
            s.Update(options.LearningRate, options.Beta1, 1.0 - Math.Pow(options.Beta1, step));
        }
    }

    private Matrix<float> InverseRoot(Matrix<float> factor)
    {
        var evd = factor.Map(x => (double)x).Evd(Symmetricity.Symmetric);
        var q = evd.EigenVectors;
        var scaled = q.Clone();
        var values = evd.EigenValues;
        var exponent = -1.0 / options.Root;
        for (var j = 0; j < q.ColumnCount; j++)
        {
            var s = Math.Pow(Math.Max(values[j].Real, 0.0) + options.Epsilon, exponent);
            scaled.SetColumn(j, q.Column(j) * s);
        }

        return scaled.TransposeAndMultiply(q).Map(x => (float)x);
    }

    private sealed class Block(int row, int col, int rows, int cols)
    {
        public int Row { get; } = row;

        public int Col { get; } = col;

        public Matrix<float> G { get; } = Matrix<float>.Build.Dense(rows, cols);

        public Matrix<float> L { get; } = Matrix<float>.Build.Dense(rows, rows);

        public Matrix<float> R { get; } = Matrix<float>.Build.Dense(cols, cols);

        public Matrix<float> GGt { get; } = Matrix<float>.Build.Dense(rows, rows);

        public Matrix<float> GtG { get; } = Matrix<float>.Build.Dense(cols, cols);

        public Matrix<float> Temp { get; } = Matrix<float>.Build.Dense(rows, cols);

        public Matrix<float> D { get; } = Matrix<float>.Build.Dense(rows, cols);

        public Matrix<float> LeftRoot { get; set; } = Matrix<float>.Build.DenseIdentity(rows);

        public Matrix<float> RightRoot { get; set; } = Matrix<float>.Build.DenseIdentity(cols);
    }

    private sealed class State
    {
        private readonly Parameter parameter;
        private readonly int cols;
        private readonly double[] graft;
        private readonly double[]? diagonal;
        private readonly float[] direction;
        private readonly float[] momentum;

        public State(Parameter parameter, int maxDim)
        {
            this.parameter = parameter;
            cols = parameter.IsMatrix ? parameter.MatrixCols : parameter.Length;
            Blocks = parameter.IsMatrix
                ? MatrixBlocking.Partition(parameter.MatrixRows, parameter.MatrixCols, maxDim).Select(b => new Block(b.Row, b.Col, b.Rows, b.Cols)).ToArray()
                : [];
            diagonal = parameter.IsMatrix ? null : new double[parameter.Length];
            graft = new double[parameter.Length];
            direction = new float[parameter.Length];
            momentum = new float[parameter.Length];
        }

        public Block[] Blocks { get; }

        public void Accumulate()
        {
            var g = parameter.Gradient;
            foreach (var b in Blocks)
            {
                for (var i = 0; i < b.G.RowCount; i++)
                {
                    for (var j = 0; j < b.G.ColumnCount; j++)
                    {
                        b.G[i, j] = g[((b.Row + i) * cols) + b.Col + j];
                    }
                }

                b.G.TransposeAndMultiply(b.G, b.GGt);
                b.L.Add(b.GGt, b.L);
                b.G.TransposeThisAndMultiply(b.G, b.GtG);
                b.R.Add(b.GtG, b.R);
            }

            for (var i = 0; i < g.Length; i++)
            {
                var x = (double)g[i];
                graft[i] += x * x;
                if (diagonal is not null)
                {
                    diagonal[i] += x * x;
                }
            }
        }

        public void Direction(double graftEpsilon, double diagonalEpsilon)
        {
            var g = parameter.Gradient;
            if (diagonal is not null)
            {
                double graftSquares = 0, directionSquares = 0;
                for (var i = 0; i < g.Length; i++)
                {
                    var d = g[i] / (Math.Sqrt(diagonal[i]) + diagonalEpsilon);
                    var p = g[i] / (Math.Sqrt(graft[i]) + graftEpsilon);
                    direction[i] = (float)d;
                    directionSquares += d * d;
                    graftSquares += p * p;
                }

                Scale(direction, 0, 0, 1, g.Length, directionSquares > 0 ? Math.Sqrt(graftSquares / directionSquares) : 0);
                return;
            }

            foreach (var b in Blocks)
            {
                b.LeftRoot.Multiply(b.G, b.Temp);
                b.Temp.Multiply(b.RightRoot, b.D);
                double graftSquares = 0, directionSquares = 0;
                for (var i = 0; i < b.D.RowCount; i++)
                {
                    for (var j = 0; j < b.D.ColumnCount; j++)
                    {
                        var index = ((b.Row + i) * cols) + b.Col + j;
                        var d = (double)b.D[i, j];
                        var p = g[index] / (Math.Sqrt(graft[index]) + graftEpsilon);
                        direction[index] = (float)d;
                        directionSquares += d * d;
                        graftSquares += p * p;
                    }
                }

                Scale(direction, b.Row, b.Col, b.D.RowCount, b.D.ColumnCount, directionSquares > 0 ? Math.Sqrt(graftSquares / directionSquares) : 0);
            }
        }

        public void Update(double learningRate, double beta1, double correction)
        {
            var w = parameter.Value;
            var step = (float)(learningRate / correction);
            for (var i = 0; i < w.Length; i++)
            {
                momentum[i] = (float)((beta1 * momentum[i]) + ((1 - beta1) * direction[i]));
                w[i] -= step * momentum[i];
            }
        }

        private void Scale(float[] values, int row, int col, int rows, int width, double scale)
        {
            for (var i = 0; i < rows; i++)
            {
                var offset = ((row + i) * cols) + col;
                for (var j = 0; j < width; j++)
                {
                    values[offset + j] = (float)(values[offset + j] * scale);
                }
            }
        }
    }
}
