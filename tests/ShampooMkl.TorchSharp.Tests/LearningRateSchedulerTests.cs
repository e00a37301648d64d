using ShampooMkl.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>TorchSharp's own LR schedulers drive the adapter's learning rate through <c>ParamGroups</c>.</summary>
public class LearningRateSchedulerTests
{
    [Fact]
    public void ParamGroups_StartAtTheOptionsRate_OnePerGroup()
    {
        using var model = TorchTestData.Mlp(seed: 6, 12, 8, 3);
        var named = model.named_parameters().ToList();
        using var optimizer = new TorchShampoo(
            [
                new TorchParameterGroup<ShampooOptions>(named.Where(p => p.name.EndsWith(".weight", StringComparison.Ordinal))),
                new TorchParameterGroup<ShampooOptions>(named.Where(p => p.name.EndsWith(".bias", StringComparison.Ordinal)), o => o with { LearningRate = 0.5, WeightDecay = 0 }),
            ],
            ShampooOptions.Shampoo with { LearningRate = 0.02, Schedule = LearningRateSchedule.LinearWarmup(4) });
        Assert.Equal([0.02, 0.5], optimizer.ParamGroups.Select(g => g.LearningRate));
        // The bias group overrides its rate and decay only: it keeps the defaults' schedule.
        Assert.Equal(ShampooOptions.Shampoo with { LearningRate = 0.5, WeightDecay = 0, Schedule = LearningRateSchedule.LinearWarmup(4) },
            optimizer.Shampoo.GroupOptions[1]);
        Assert.Equal(0.5 * 0.25, optimizer.Core.GetCurrentLearningRate(1));
        Assert.Equal([0.02, 0.5], optimizer.ParamGroups.Select(g => g.InitialLearningRate));
        Assert.Equal(2, optimizer.Core.GroupCount);
        Assert.Equal(named.Count, optimizer.parameters().Count());
    }

    [Fact]
    public void StepLR_ScalesTheNextUpdate()
    {
        // Two identical models and optimizers take step 1 alike; then one scheduler multiplies the rate by 0.1, so step 2
        // (same weights, same batch, same statistics) must move that model by a tenth: Δ = −η(λW + U) is linear in η.
        using var scheduled = TorchTestData.Mlp(seed: 7, 12, 8, 3);
        using var plain = TorchTestData.Mlp(seed: 7, 12, 8, 3);
        var options = ShampooOptions.ShampooSquared with { LearningRate = 0.05, StartPreconditioningStep = 1, PreconditionFrequency = 1, Epsilon = 1e-4 };
        using var a = new TorchShampoo(scheduled.named_parameters(), options);
        using var b = new TorchShampoo(plain.named_parameters(), options);
        var scheduler = optim.lr_scheduler.StepLR(a, step_size: 1, gamma: 0.1);
        var (x, y) = TorchTestData.Batch(seed: 3, batch: 16, features: 12, classes: 3);
        for (var step = 1; step <= 2; step++)
        {
            var beforeA = TorchTestData.Snapshot(scheduled.parameters());
            var beforeB = TorchTestData.Snapshot(plain.parameters());
            foreach (var (model, optimizer) in new[] { (scheduled, a), (plain, b) })
            {
                optimizer.zero_grad();
                TorchTestData.ForwardBackward(model, x, y);
                optimizer.step();
            }

            var ratio = UpdateNorm(beforeA, scheduled) / UpdateNorm(beforeB, plain);
            Assert.Equal(step == 1 ? 1.0 : 0.1, ratio, 2);
            scheduler.step();
        }

        Assert.Equal(0.05 * 0.1 * 0.1, a.ParamGroups.Single().LearningRate, 12);
        Assert.Equal(0.05 * 0.1, a.Core.GetLearningRate(0), 12);
        Assert.Equal(0.05, b.Core.GetLearningRate(0));
    }

    [Fact]
    public void ALearningRateSetByHand_IsUsedByTheNextStep()
    {
        using var model = TorchTestData.Mlp(seed: 8, 12, 8, 3);
        using var optimizer = new TorchAdamW(model.named_parameters(), AdamWOptions.Default with { LearningRate = 1e-3 });
        optimizer.ParamGroups.Single().LearningRate = 4e-3;
        var (x, y) = TorchTestData.Batch(seed: 3, batch: 16, features: 12, classes: 3);
        TorchTestData.ForwardBackward(model, x, y);
        optimizer.step();
        Assert.Equal(4e-3, optimizer.Core.GetLearningRate(0));
        Assert.Equal(4e-3, optimizer.Core.CurrentLearningRate);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-0.1)]
    public void AnInvalidRate_IsRefusedAtStep_AndNothingChanges(double rate)
    {
        using var model = TorchTestData.Mlp(seed: 8, 12, 8, 3);
        using var optimizer = new TorchShampoo(model.named_parameters());
        var (x, y) = TorchTestData.Batch(seed: 3, batch: 16, features: 12, classes: 3);
        TorchTestData.ForwardBackward(model, x, y);
        var before = TorchTestData.Snapshot(model.parameters());
        optimizer.ParamGroups.Single().LearningRate = rate;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.step());
        Assert.Contains("learning rate of parameter group 0", error.Message);
        TorchTestData.AssertSameBits(before, [.. model.parameters()], "after refusing the rate");
        Assert.Equal(0, optimizer.Core.StepCount);
    }

    private static double UpdateNorm(float[][] before, nn.Module model)
    {
        var sum = 0.0;
        var k = 0;
        foreach (var p in model.parameters())
        {
            var now = TorchTestData.Storage(p);
            for (var i = 0; i < now.Length; i++)
            {
                var d = (double)now[i] - before[k][i];
                sum += d * d;
            }

            k++;
        }

        return Math.Sqrt(sum);
    }
}
