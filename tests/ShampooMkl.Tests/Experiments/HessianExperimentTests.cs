using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Experiments;
using ShampooMkl.Analysis.Models;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Kronecker;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Experiments;

/// <summary>The whole grid on tiny seeded models: valid cosines, the optimum on top, and the paper's exact 2-class case.</summary>
public sealed class HessianExperimentTests
{
    private static readonly PowerIterationOptions Converge = new() { MaxIterations = 5000, Tolerance = 1e-12 };

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Grid_CosinesLieInTheUnitIntervalAndTheOptimumIsOnTop(int layer)
    {
        var model = new Mlp([6], inputFeatures: 5, classes: 3, maxBatchSize: 8, seed: 21);
        LabeledImages data = ExperimentTestData.Images(22, 24, 5, 3);
        var estimates = HessianEstimates.Collect(model, layer, data.Images, data.Labels, data.Count, new Random(23));
        HessianMeasurement measurement = HessianExperiment.Measure(estimates, batchSize: 4, Converge);

        Assert.Equal(HessianGrid.Cells.Count, measurement.Cosines.Count);
        Assert.All(measurement.PowerIterations, p => Assert.True(p.Converged, $"{p.Source}: change {p.Change:E2} after {p.Iterations} passes"));

        // ⟨H, A⊗B⟩ ≥ 0 for PSD H and PSD factors (all approximations here are), and ≤ ‖H‖‖A⊗B‖ by Cauchy–Schwarz.
        Assert.All(measurement.Cosines, c => Assert.InRange(c.Cosine, 0, 1 + 1e-12));

        // The converged optimum of H maximises the cosine over all Kronecker products — including those built from
        // other samples — up to its O(tolerance²) convergence error.
        foreach (var hessian in Enum.GetValues<HessianKind>())
        {
            double best = measurement.Cosine(new HessianCell(hessian, HessianGrid.TargetOf(hessian), ApproximationKind.Optimal));
            foreach (var cell in HessianGrid.Cells.Where(c => c.Hessian == hessian))
            {
                Assert.True(measurement.Cosine(cell) <= best + 1e-12, $"{cell.Key}: {measurement.Cosine(cell):R} > optimum {best:R}");
            }
        }

        // K-FAC needs per-example δ and a: present exactly for the per-example sources.
        Assert.All(HessianGrid.Cells, cell => Assert.Equal(
            cell.Approximation != ApproximationKind.KFac || cell.Source.Gradients == GradientKind.PerExample,
            !double.IsNaN(measurement.Cosine(cell))));
    }

    /// <summary>
    /// The paper's exactly-Kronecker case: for a linear 2-class softmax model every per-(example, class) gradient is
    /// (pᵢ − e_c)xᵢᵀ ∝ u xᵢᵀ with u = (1, −1), so H_GN = uuᵀ ⊗ (1/N) Σ pᵢ₀pᵢ₁ xᵢxᵢᵀ is one Kronecker product and
    /// Shampoo² — one power-iteration step — already equals it (cosine 1) and the optimum. The same holds for the
    /// true-label (Adagrad) and sampled-label samples, whose gradients are all ∝ u xᵀ too.
    /// </summary>
    [Fact]
    public void LinearTwoClassModel_ShampooSquaredIsOptimalForGaussNewton()
    {
        var model = new LinearClassifier(inputFeatures: 6, classes: 2, maxBatchSize: 8, seed: 31);
        LabeledImages data = ExperimentTestData.Images(32, 20, 6, 2);
        var estimates = HessianEstimates.Collect(model, 0, data.Images, data.Labels, data.Count, new Random(33));
        HessianMeasurement measurement = HessianExperiment.Measure(estimates, batchSize: 5, Converge);

        // fp32 δ's are ∝ u only to rounding (p₀ − 1 vs −p₁); the cosine's departure from 1 is quadratic in that, ~1e-14.
        foreach (var hessian in Enum.GetValues<HessianKind>())
        {
            var own = HessianGrid.TargetOf(hessian);
            double squared = measurement.Cosine(new HessianCell(hessian, own, ApproximationKind.ShampooSquared));
            double optimal = measurement.Cosine(new HessianCell(hessian, own, ApproximationKind.Optimal));
            Assert.InRange(squared, 1 - 1e-10, 1 + 1e-12);
            Assert.InRange(optimal - squared, -1e-12, 1e-10);
        }

        var sampled = estimates.PerExample(LabelMode.Sampled);
        double ownSampled = FactoredKronecker.Cosine(sampled, KroneckerApproximations.ShampooSquared(FactoredKronecker.Statistics(sampled)), FactoredKronecker.HNorm(sampled));
        Assert.InRange(ownSampled, 1 - 1e-10, 1 + 1e-12);
    }

    [Fact]
    public void ASourceWithOnlyZeroGradients_GivesNaNCellsInsteadOfFailing()
    {
        // A float32 softmax can saturate at exactly 1, and then a sampled label equal to the prediction has δ = 0 exactly.
        const int count = 6;
        float[] inputs = SeededRandom.GaussianSingle(50, count * 3);
        float[] deltas = SeededRandom.GaussianSingle(51, count * 2);
        float[] perClass = SeededRandom.GaussianSingle(52, count * 2 * 2);
        var estimates = new HessianEstimates(inputs, deltas, new float[count * 2], perClass, Enumerable.Repeat(0.5f, count * 2).ToArray(),
            new byte[count], new byte[count], count, rows: 2, cols: 3, classes: 2);
        HessianMeasurement measurement = HessianExperiment.Measure(estimates, batchSize: 2, Converge);

        foreach (var cell in HessianGrid.Cells)
        {
            double cosine = measurement.Cosine(cell);
            Assert.True(cell.Source.Labels == LabelMode.Sampled ? double.IsNaN(cosine) : cosine is >= 0 and <= 1 + 1e-12, $"{cell.Key}: {cosine}");
        }

        Assert.All(measurement.PowerIterations.Where(p => p.Source.Contains("sampled", StringComparison.Ordinal)), p => Assert.Equal(0, p.Iterations));
        Assert.Contains("NaN", HessianReportFiles.ToJson(new HessianReport { Model = "m", Dataset = "d", Measurements = [measurement] }), StringComparison.Ordinal);
    }

    [Fact]
    public void Tracking_TrainsAndMeasuresOnTheSchedule()
    {
        // A small input keeps the test fast (Shampoo's R^{1/2} of a 784-input layer is an eigendecomposition per source).
        LabeledImages train = ExperimentTestData.Images(41, 48, 12, 2);
        SequentialModel Model() => new LinearClassifier(inputFeatures: 12, classes: 2, maxBatchSize: 8, seed: 4);
        var settings = new HessianTrackingSettings
        {
            Model = ModelKind.Linear,
            Dataset = AnalysisDataset.Mnist2,
            Steps = 5,
            Every = 2,
            Examples = 16,
            BatchSize = 8,
            Optimizer = OptimizerKind.Sgd,
            Seed = 4,
            PowerIterations = 50,
        };
        var seen = new List<int>();
        HessianReport report = HessianTracking.Run(settings, train, Model(), new Recorder(seen));

        Assert.Equal([0, 2, 4, 5], report.Measurements.Select(m => m.Step));
        Assert.Equal([0, 2, 4, 5], seen);
        Assert.Equal((2, 12), (report.Rows, report.Cols));
        Assert.True(report.Measurements[^1].Loss < report.Measurements[0].Loss, "five SGD steps should lower the loss on the measured examples");

        HessianReport roundTrip = HessianReportFiles.FromJson(HessianReportFiles.ToJson(report));
        Assert.Equal(report.Measurements.Count, roundTrip.Measurements.Count);
        Assert.Equal(report.Measurements[2].Cosines, roundTrip.Measurements[2].Cosines);
        string[] csv = HessianReportFiles.ToCsv(report).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(HessianReportFiles.CsvHeader, csv[0]);
        Assert.Equal(1 + (4 * HessianGrid.Cells.Count), csv.Length);

        // Same settings, same numbers: the run is reproducible.
        HessianReport again = HessianTracking.Run(settings, train, Model());
        Assert.Equal(report.Measurements[^1].Cosines, again.Measurements[^1].Cosines);

        Assert.Throws<ArgumentException>(() => HessianTracking.Run(settings with { Examples = 49 }, train, Model()));
        Assert.Throws<ArgumentException>(() => HessianTracking.Run(settings with { Layer = 1 }, train, Model()));
        Assert.Throws<ArgumentException>(() => HessianTracking.Run(settings with { Dataset = AnalysisDataset.Mnist }, train, Model()));
    }

    private sealed class Recorder(List<int> steps) : IHessianTrackingObserver
    {
        public void OnMeasured(HessianMeasurement measurement) => steps.Add(measurement.Step);
    }
}
