using System.CommandLine;
using ShampooMkl.Cli.Commands;

namespace ShampooMkl.Tests.Cli;

/// <summary><c>train --framework</c>: each framework accepts its own models and optimizers and refuses the other's, and
/// options it cannot honour, with one line saying what to do. Nothing here loads libtorch.</summary>
public sealed class TrainFrameworkTests
{
    private static ParseResult Parse(params string[] args) => new RootCommand { TrainCommand.Create() }.Parse(["train", .. args]);

    [Theory]
    [InlineData("mlp", "shampoo2")]
    [InlineData("cnn", "shampoo")]
    [InlineData("vit", "adamw")]
    [InlineData("MLP", "torch-adam")]
    [InlineData("cnn", "Torch-AdamW")]
    public void TorchSharp_AcceptsItsModelsAndOptimizers(string model, string optimizer)
    {
        Assert.Empty(Parse("--framework", "torchsharp", "--model", model, "--optimizer", optimizer, "--epochs", "1", "--json", "r.json", "--plot", "p.png").Errors);
    }

    [Fact]
    public void TorchSharp_DefaultsAreValid()
    {
        Assert.Empty(Parse("--framework", "torchsharp").Errors);
    }

    [Fact]
    public void Core_IsTheDefaultFramework()
    {
        // The core path's own names keep working without --framework, and TorchSharp-only names are refused.
        Assert.Empty(Parse("--model", "linear", "--optimizer", "sgd").Errors);
        Assert.Single(Parse("--model", "vit").Errors);
    }

    [Fact]
    public void Core_RefusesTheVisionTransformer()
    {
        var error = Assert.Single(Parse("--framework", "core", "--model", "vit").Errors);
        Assert.Equal("--model vit is a TorchSharp model; add --framework torchsharp (core models: linear, mlp, cnn).", error.Message);
    }

    [Theory]
    [InlineData("torch-adam")]
    [InlineData("torch-adamw")]
    public void Core_RefusesTorchSharpsOwnOptimizers(string optimizer)
    {
        var error = Assert.Single(Parse("--optimizer", optimizer).Errors);
        Assert.Equal($"--optimizer {optimizer} trains TorchSharp models only; add --framework torchsharp (core optimizers: shampoo, shampoo2, adamw, sgd, soap).", error.Message);
    }

    [Fact]
    public void Soap_IsAcceptedByBothFrameworks_AndRefusedDistributed()
    {
        Assert.Empty(Parse("--optimizer", "soap").Errors);
        Assert.Empty(Parse("--framework", "torchsharp", "--optimizer", "SOAP").Errors);
        var error = Assert.Single(Parse("--optimizer", "soap", "--distributed").Errors);
        Assert.Equal("--optimizer soap is not available with --distributed (SOAP runs on one rank); drop --distributed, or use shampoo2 or shampoo.", error.Message);
    }

    [Fact]
    public void TorchSharp_RefusesTheLinearModel()
    {
        var error = Assert.Single(Parse("--framework", "torchsharp", "--model", "linear").Errors);
        Assert.Equal("--model linear exists only with --framework core; TorchSharp models: mlp, cnn, vit.", error.Message);
    }

    [Fact]
    public void TorchSharp_RefusesSgd()
    {
        var error = Assert.Single(Parse("--framework", "torchsharp", "--optimizer", "sgd").Errors);
        Assert.Equal("--optimizer sgd exists only with --framework core; TorchSharp optimizers: shampoo2, shampoo, adamw, torch-adam, torch-adamw, soap.", error.Message);
    }

    [Fact]
    public void TorchSharp_UnknownNames_ListTheTorchSharpChoices()
    {
        var errors = Parse("--framework", "torchsharp", "--model", "resnet", "--optimizer", "lion").Errors.Select(e => e.Message).ToList();
        Assert.Equal(
            ["Unknown TorchSharp model 'resnet'; choose one of: mlp, cnn, vit.",
             "Unknown TorchSharp optimizer 'lion'; choose one of: shampoo2, shampoo, adamw, torch-adam, torch-adamw, soap."],
            errors);
    }

    [Fact]
    public void TorchSharp_RefusesCheckpointsAndDistributedTraining()
    {
        var checkpoint = Assert.Single(Parse("--framework", "torchsharp", "--checkpoint", "dir").Errors);
        Assert.StartsWith("--checkpoint is not supported with --framework torchsharp;", checkpoint.Message);
        var distributed = Assert.Single(Parse("--framework", "torchsharp", "--distributed").Errors);
        Assert.StartsWith("--distributed is not supported with --framework torchsharp;", distributed.Message);
        Assert.Empty(Parse("--framework", "core", "--checkpoint", "dir").Errors);
    }

    [Fact]
    public void UnknownFramework_IsRejectedWithTheChoices()
    {
        var error = Assert.Single(Parse("--framework", "jax").Errors);
        Assert.Equal("Unknown framework 'jax'; choose one of: core, torchsharp.", error.Message);
    }

    [Fact]
    public void RefusedCombination_ExitsNonZeroWithTheMessage()
    {
        var output = new StringWriter();
        var code = Parse("--model", "vit").Invoke(new InvocationConfiguration { Output = output, Error = output });
        Assert.Equal(1, code);
        Assert.Contains("--model vit is a TorchSharp model; add --framework torchsharp", output.ToString());
    }
}
