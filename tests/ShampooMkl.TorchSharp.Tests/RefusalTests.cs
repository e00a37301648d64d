using ShampooMkl.Optim;
using TorchSharp;
using static TorchSharp.torch;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>Parameters the optimizer cannot update in place are refused at construction with one clear message naming
/// them; gradients that cannot be used refuse the step before anything changes; non-finite gradients follow the
/// core's policy (the whole step is skipped).</summary>
public class RefusalTests
{
    private static ArgumentException Refused(params (string, TorchParameter)[] parameters) =>
        Assert.Throws<ArgumentException>(() => new TorchShampoo(parameters));

    [Fact]
    public void ANonContiguousView_IsRefused()
    {
        using var p = new TorchParameter(torch.randn(4, 6).t());
        Assert.False(p.is_contiguous());
        var error = Refused(("fc.weight", p));
        Assert.Contains("Parameter 'fc.weight' [6×4] is not contiguous", error.Message);
        Assert.Contains("contiguous()", error.Message);
    }

    [Fact]
    public void Float16_IsRefused()
    {
        using var p = new TorchParameter(torch.zeros(3, 2, dtype: ScalarType.Float16));
        var error = Refused(("half", p));
        Assert.Contains("Parameter 'half' has dtype Float16", error.Message);
        Assert.Contains("float32 and float64", error.Message);
    }

    [Fact]
    public void ATensorOnAnotherDevice_IsRefused()
    {
        using var p = new TorchParameter(torch.empty(3, 2, device: torch.META));
        var error = Refused(("meta.weight", p));
        Assert.Contains("Parameter 'meta.weight' is on device meta", error.Message);
        Assert.Contains("module.to(torch.CPU)", error.Message);
    }

    [Fact]
    public void AParameterListedTwice_IsRefused()
    {
        using var p = new TorchParameter(torch.zeros(3, 2));
        var error = Refused(("a", p), ("b", p));
        Assert.Contains("Parameter 'b' is listed twice (first as 'a')", error.Message);

        // The same tensor through two wrappers (two handles, one storage) is caught by its storage.
        using var view = new TorchParameter(p.detach());
        var shared = Refused(("a", p), ("b", view));
        Assert.Contains("share storage", shared.Message);
    }

    [Fact]
    public void NoParameters_AreRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => new TorchAdamW(Array.Empty<TorchParameter>()));
        Assert.Contains("at least one parameter", error.Message);
    }

    [Fact]
    public void AFrozenParameter_IsRefused()
    {
        using var p = new TorchParameter(torch.zeros(3, 2), requires_grad: false);
        var error = Refused(("frozen", p));
        Assert.Contains("Parameter 'frozen' does not require gradients", error.Message);
    }

    [Fact]
    public void UnnamedParameters_AreNamedByPosition()
    {
        using var ok = new TorchParameter(torch.zeros(2, 2));
        using var bad = new TorchParameter(torch.zeros(2, dtype: ScalarType.Int32), requires_grad: false);
        var error = Assert.Throws<ArgumentException>(() => new TorchShampoo([ok, bad]));
        Assert.Contains("Parameter 'parameters[1]' has dtype Int32", error.Message);
    }

    [Fact]
    public void AMissingGradient_RefusesTheStep_AndChangesNothing()
    {
        using var model = TorchTestData.Mlp(seed: 10, 6, 5, 3);
        using var unused = new TorchParameter(torch.ones(4, 4));
        var named = model.named_parameters().Append(("unused.weight", unused)).ToList();
        using var optimizer = new TorchShampoo(named, ShampooOptions.Shampoo with { StartPreconditioningStep = 1 });
        var (x, y) = TorchTestData.Batch(seed: 4, batch: 8, features: 6, classes: 3);
        TorchTestData.ForwardBackward(model, x, y);
        var before = TorchTestData.Snapshot(named.Select(p => p.Item2));
        var error = Assert.Throws<InvalidOperationException>(() => optimizer.step());
        Assert.Contains("Parameter 'unused.weight' has no gradient at step()", error.Message);
        Assert.Contains("No optimizer state was changed", error.Message);
        TorchTestData.AssertSameBits(before, [.. named.Select(p => p.Item2)], "after refusing the step");
        Assert.Equal(0, optimizer.Core.StepCount);
    }

    [Fact]
    public void ANonFiniteGradient_SkipsTheWholeStep_AsTheCoreDoes()
    {
        using var model = TorchTestData.Mlp(seed: 11, 6, 5, 3);
        var named = model.named_parameters().ToList();
        using var optimizer = new TorchShampoo(named, ShampooOptions.ShampooSquared with { StartPreconditioningStep = 1 });
        var (x, y) = TorchTestData.Batch(seed: 4, batch: 8, features: 6, classes: 3);
        TorchTestData.ForwardBackward(model, x, y);
        using (var grad = named[1].parameter.grad!)
        {
            TorchTestData.Storage(grad)[2] = float.NaN;
        }

        var before = TorchTestData.Snapshot(named.Select(p => p.parameter));
        optimizer.step();
        Assert.False(optimizer.LastResult.Applied);
        Assert.Contains($"parameter '{named[1].name}' contains NaN or infinite values", optimizer.LastResult.Message);
        Assert.Equal(1, optimizer.Core.Statistics.SkippedSteps);
        Assert.Equal(0, optimizer.Core.StepCount);
        TorchTestData.AssertSameBits(before, [.. named.Select(p => p.parameter)], "after a skipped step");

        optimizer.zero_grad();
        TorchTestData.ForwardBackward(model, x, y);
        optimizer.step();
        Assert.True(optimizer.LastResult.Applied);
        Assert.Equal(1, optimizer.Core.StepCount);
    }

    [Fact]
    public void AGradientOfAnotherDtype_RefusesTheStep()
    {
        using var p = new TorchParameter(torch.ones(3, 2));
        using var optimizer = new TorchAdamW([("w", p)]);
        p.grad = torch.ones(3, 2, dtype: ScalarType.Float64);
        var error = Assert.Throws<InvalidOperationException>(() => optimizer.step());
        Assert.Contains("The gradient of parameter 'w' has dtype Float64, the parameter Float32", error.Message);
    }

    [Fact]
    public void Float64Parameters_AreUpdatedInPlace()
    {
        using var p = new TorchParameter(torch.ones(3, 2, dtype: ScalarType.Float64));
        using var optimizer = new TorchAdamW([("w", p)], AdamWOptions.Default with { LearningRate = 0.5, WeightDecay = 0 });
        p.grad = torch.ones(3, 2, dtype: ScalarType.Float64);
        optimizer.step();
        Assert.Equal(ParameterPrecision.Double, optimizer.Core.Parameters[0].ElementType);
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(p.bytes).ToArray();
        // AdamW's first step moves every weight by η·g/(|g| + ε) ≈ η.
        Assert.All(values, v => Assert.Equal(0.5, v, 6));
    }

    [Fact]
    public void ConvWeights_KeepTheirShape_ForTheMergedDimensionRule()
    {
        using var conv = nn.Conv2d(3, 8, 3);
        using var optimizer = new TorchShampoo(conv.named_parameters());
        var weight = optimizer.Core.Parameters.Single(p => p.Name == "weight");
        Assert.Equal([8, 3, 3, 3], weight.Shape);
        Assert.Equal(8, weight.MatrixRows);
        Assert.Equal(27, weight.MatrixCols);
        Assert.True(weight.IsMatrix);
    }
}
