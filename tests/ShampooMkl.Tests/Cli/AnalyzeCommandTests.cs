using System.CommandLine;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Cli.Commands;
using ShampooMkl.Kronecker;
using ShampooMkl.Tests.Kronecker;
using ShampooMkl.Tests.Linalg;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Cli;

/// <summary><c>shampoo-mkl analyze</c>: the .npy bridge against dense computations, clear failures, option checks, and the plots.</summary>
public sealed class AnalyzeCommandTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("analyze-tests-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = new RootCommand { AnalyzeCommand.Create() }.Parse(["analyze", .. args])
            .Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Gradients_PrintsTheMetricsOfADenseComputation(bool single, bool weighted)
    {
        const int count = 6;
        const int m = 3;
        const int n = 4;
        double[] stack = SeededRandom.Gaussian(90, count * m * n);
        double[] weights = SeededRandom.Uniform(91, count, 0.2, 1);
        string path = Path.Combine(folder, "g.npy");
        if (single)
        {
            float[] values = stack.Select(x => (float)x).ToArray();
            NpyWriter.Write(path, values, [count, m, n]);
            stack = values.Select(x => (double)x).ToArray();
        }
        else
        {
            NpyWriter.Write(path, stack, [count, m, n]);
        }

        string[] args = ["--gradients", path, "--tolerance", "1e-13", "--power-iterations", "5000"];
        if (weighted)
        {
            NpyWriter.Write(Path.Combine(folder, "w.npy"), weights, [count]);
            args = [.. args, "--weights", Path.Combine(folder, "w.npy")];
        }

        var (code, output, error) = Run(args);
        Assert.True(code == 0, error);
        GradientFileMetrics metrics = GradientFileMetrics.FromJson(output);

        double total = weighted ? weights.Sum() : count;
        double[] w = weighted ? weights.Select(x => x / total).ToArray() : Enumerable.Repeat(1.0 / count, count).ToArray();
        double[] h = KroneckerTestData.DenseH(stack, count, m, n, w);
        var l = new double[m * m];
        var r = new double[n * n];
        for (int i = 0; i < count; i++)
        {
            double[] g = stack.AsSpan(i * m * n, m * n).ToArray();
            l = DenseMatrix.Add(l, DenseMatrix.Scale(DenseMatrix.Multiply(g, m, n, DenseMatrix.Transpose(g, m, n), n, m), w[i]));
            r = DenseMatrix.Add(r, DenseMatrix.Scale(DenseMatrix.Multiply(DenseMatrix.Transpose(g, m, n), n, m, g, m, n), w[i]));
        }

        double hNorm = DenseMatrix.FrobeniusNorm(h);
        (double sigma, _, _) = JacobiSvd.Top(DenseMatrix.VanLoanRearrangement(h, m, n), m * m, n * n);
        double shampooSquared = DenseMatrix.CosineSimilarity(h, DenseMatrix.Kronecker(l, m, r, n));
        double[] rootL = JacobiEigen.MatrixFunction(l, m, v => Math.Sqrt(Math.Max(v, 0)));
        double[] rootR = JacobiEigen.MatrixFunction(r, n, v => Math.Sqrt(Math.Max(v, 0)));
        double shampoo = DenseMatrix.CosineSimilarity(h, DenseMatrix.Kronecker(rootL, m, rootR, n));

        Assert.Equal((count, m, n, single ? "<f4" : "<f8", weighted), (metrics.Count, metrics.Rows, metrics.Cols, metrics.DType, metrics.Weighted));
        Tolerance.AssertClose(hNorm, metrics.HNorm, 1e-12, 0, "‖H‖");
        Tolerance.AssertClose(DenseMatrix.Trace(h, m * n), metrics.Trace, 1e-12, 0, "Tr(H)");
        Tolerance.AssertClose(sigma / hNorm, metrics.Optimal, 1e-10, 0, "cos(H, optimal)");
        Tolerance.AssertClose(shampooSquared, metrics.ShampooSquared, 1e-12, 0, "cos(H, Shampoo²)");
        Tolerance.AssertClose(shampoo, metrics.Shampoo, 1e-10, 0, "cos(H, Shampoo)");
        Tolerance.AssertClose(Math.Sqrt(1 - (metrics.Optimal * metrics.Optimal)), metrics.Residual, 1e-12, 0, "relative residual");
        Assert.True(metrics.Converged);
        Assert.True(metrics.Optimal >= metrics.ShampooSquared - 1e-12 && metrics.ShampooSquared >= 0);
    }

    [Fact]
    public void Gradients_WritesTheJsonFileToo()
    {
        string path = Path.Combine(folder, "g.npy");
        NpyWriter.Write(path, SeededRandom.Gaussian(92, 2 * 2 * 3), [2, 2, 3]);
        string json = Path.Combine(folder, "out", "m.json");
        var (code, output, _) = Run("--gradients", path, "--json", json);
        Assert.Equal(0, code);
        Assert.Equal(output.Trim(), File.ReadAllText(json).Trim());
    }

    [Fact]
    public void Gradients_ReadsFilesLargerThanOneReadChunk()
    {
        // 3×100×300 = 90,000 fp32 values: more than one 65,536-element chunk, and too large for a dense H reference,
        // so the library's dense path on the same values is the yardstick.
        const int count = 3;
        const int m = 100;
        const int n = 300;
        float[] values = SeededRandom.GaussianSingle(94, count * m * n);
        string path = Path.Combine(folder, "large.npy");
        NpyWriter.Write(path, values, [count, m, n]);

        // The optimum is not compared here; two passes keep the dense power iteration cheap.
        var (code, output, error) = Run("--gradients", path, "--power-iterations", "2");
        Assert.True(code == 0, error);
        GradientFileMetrics metrics = GradientFileMetrics.FromJson(output);
        var sample = new GradientSample<double>(values.Select(x => (double)x).ToArray(), count, m, n);
        double hNorm = KroneckerSimilarity.ComputeHNorm(sample);
        double squared = KroneckerSimilarity.Cosine(sample, KroneckerApproximations.ShampooSquared(KroneckerApproximations.ComputeStatistics(sample)), hNorm);
        Assert.Equal("<f4", metrics.DType);
        Tolerance.AssertClose(hNorm, metrics.HNorm, 1e-12, 0, "‖H‖");
        Tolerance.AssertClose(squared, metrics.ShampooSquared, 1e-12, 0, "cos(H, Shampoo²)");

        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^4]);
        (code, _, error) = Run("--gradients", path);
        Assert.NotEqual(0, code);
        Assert.Contains("truncated .npy", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("garbage", "not a .npy file")]
    [InlineData("truncated", "truncated")]
    [InlineData("2-D", "3-D array of shape (N, m, n)")]
    [InlineData("NaN", "NaN")]
    [InlineData("weights", "1-D array of 3 values")]
    [InlineData("negative weight", "non-negative")]
    [InlineData("missing", "Could not find file")]
    public void Gradients_BadFilesFailWithAClearMessage(string problem, string message)
    {
        string path = Path.Combine(folder, "bad.npy");
        string[] extra = [];
        double[] good = SeededRandom.Gaussian(93, 3 * 2 * 2);
        switch (problem)
        {
            case "garbage":
                File.WriteAllText(path, "this is not numpy");
                break;
            case "truncated":
                NpyWriter.Write(path, good, [3, 2, 2]);
                File.WriteAllBytes(path, File.ReadAllBytes(path)[..^8]);
                break;
            case "2-D":
                NpyWriter.Write(path, good, [3, 4]);
                break;
            case "NaN":
                good[5] = double.NaN;
                NpyWriter.Write(path, good, [3, 2, 2]);
                break;
            case "weights":
            case "negative weight":
                NpyWriter.Write(path, good, [3, 2, 2]);
                string weights = Path.Combine(folder, "w.npy");
                NpyWriter.Write(weights, problem == "weights" ? [1.0, 2.0] : [1.0, -2.0, 1.0], [problem == "weights" ? 2 : 3]);
                extra = ["--weights", weights];
                break;
            case "missing":
                path = Path.Combine(folder, "nothing-here.npy");
                break;
        }

        var (code, output, error) = Run(["--gradients", path, .. extra]);
        Assert.NotEqual(0, code);
        Assert.Empty(output);
        Assert.StartsWith("analyze: ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--weights", "w.npy" }, "--weights needs --gradients")]
    [InlineData(new[] { "--gradients", "g.npy", "--plot", "p.png" }, "--csv and --plot belong to the training mode")]
    [InlineData(new[] { "--model", "resnet" }, "Unknown model 'resnet'; choose one of: linear, mlp, cnn.")]
    [InlineData(new[] { "--dataset", "cifar" }, "Unknown dataset 'cifar'")]
    [InlineData(new[] { "--digits", "3,3" }, "--digits must be two different digits")]
    [InlineData(new[] { "--every", "0" }, "--every 0 is out of range; give a whole number from 1")]
    [InlineData(new[] { "--examples", "0" }, "--examples 0 is out of range; give a whole number from 1")]
    [InlineData(new[] { "--layer", "-1" }, "--layer -1 is out of range; give a whole number from 0")]
    [InlineData(new[] { "--tolerance", "-1" }, "--tolerance -1 is out of range; give a number at least 0")]
    public void BadOptions_AreRejected(string[] args, string message)
    {
        var result = new RootCommand { AnalyzeCommand.Create() }.Parse(["analyze", .. args]);
        Assert.Contains(result.Errors, e => e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Plots_AreWrittenAsPngs()
    {
        var cosines = HessianGrid.Cells.Select((c, i) => new CosineValue(HessianGrid.Name(c.Hessian), c.Source.Name, HessianGrid.Name(c.Approximation), 0.5 + (0.01 * (i % 40)))).ToList();
        var report = new HessianReport
        {
            Model = "mlp",
            Dataset = "mnist",
            LayerName = "fc1",
            Rows = 256,
            Cols = 784,
            Examples = 100,
            BatchSize = 16,
            Optimizer = "adamw",
            Measurements = [new HessianMeasurement(0, 2.3, 1, 1, 1, cosines, []), new HessianMeasurement(10, 1.1, 1, 1, 1, cosines, [])],
        };
        string path = Path.Combine(folder, "plots", "cos.png");
        AnalyzeCommand.Plots.SaveFigure1(report, path);
        AnalyzeCommand.Plots.SaveTricks(report, AnalyzeCommand.Plots.TricksPath(path));
        byte[] png = [0x89, (byte)'P', (byte)'N', (byte)'G'];
        Assert.Equal(png, File.ReadAllBytes(path)[..4]);
        Assert.Equal(png, File.ReadAllBytes(Path.Combine(folder, "plots", "cos-tricks.png"))[..4]);
    }
}
