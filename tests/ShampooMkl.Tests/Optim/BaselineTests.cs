using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Optim;

/// <summary>AdamW and SGD against their textbook formulas, written out per element.</summary>
public class BaselineTests
{
    [Fact]
    public void AdamW_MatchesTheFormula()
    {
        var parameters = OptimTestData.Parameters([[3, 4], [5]]);
        var options = new AdamWOptions { LearningRate = 0.01, WeightDecay = 0.1, Schedule = LearningRateSchedule.LinearWarmup(2) };
        var w = parameters.Select(p => p.Value.Select(x => (double)x).ToArray()).ToArray();
        var m = parameters.Select(p => new double[p.Length]).ToArray();
        var v = parameters.Select(p => new double[p.Length]).ToArray();
        using var optimizer = new AdamW(parameters, options);
        for (var t = 1; t <= 4; t++)
        {
            var g = OptimTestData.SetGradients(parameters, t);
            optimizer.Step();
            var lr = 0.01 * Math.Min(1.0, t / 2.0);
            for (var k = 0; k < w.Length; k++)
            {
                for (var i = 0; i < w[k].Length; i++)
                {
                    m[k][i] = (0.9 * m[k][i]) + (0.1 * g[k][i]);
                    v[k][i] = (0.999 * v[k][i]) + (0.001 * g[k][i] * g[k][i]);
                    var mhat = m[k][i] / (1 - Math.Pow(0.9, t));
                    var vhat = v[k][i] / (1 - Math.Pow(0.999, t));
                    w[k][i] = (float)((w[k][i] * (1 - (lr * 0.1))) - (lr * mhat / (Math.Sqrt(vhat) + 1e-8)));
                }

                Reference.Tolerance.AssertClose(w[k], parameters[k].Value.Select(x => (double)x).ToArray(), 0, 1e-7, $"AdamW step {t}");
            }
        }
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.9, false)]
    [InlineData(0.9, true)]
    public void Sgd_MatchesTheFormula(double momentum, bool nesterov)
    {
        var parameters = OptimTestData.Parameters([[3, 4]]);
        using var optimizer = new Sgd(parameters, new SgdOptions { LearningRate = 0.1, Momentum = momentum, Nesterov = nesterov, WeightDecay = 0.2 });
        var w = parameters[0].Value.Select(x => (double)x).ToArray();
        var b = new double[w.Length];
        for (var t = 1; t <= 3; t++)
        {
            var g = OptimTestData.SetGradients(parameters, t)[0];
            optimizer.Step();
            for (var i = 0; i < w.Length; i++)
            {
                b[i] = (momentum * b[i]) + g[i];
                var u = momentum == 0 ? g[i] : nesterov ? g[i] + (momentum * b[i]) : b[i];
                w[i] = (float)((w[i] * (1 - 0.02)) - (0.1 * u));
            }

            Reference.Tolerance.AssertClose(w, parameters[0].Value.Select(x => (double)x).ToArray(), 0, 1e-7, $"SGD step {t}");
        }
    }
}
