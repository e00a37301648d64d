using System.Globalization;
using ShampooMkl.Optim;
using ShampooMkl.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchSharpQuickstart;

/// <summary>The whole quickstart: a TorchSharp model trained with ShampooMkl's Shampoo², checkpointed half-way, and
/// resumed from the checkpoint in a fresh model and optimizer, which must end exactly where the uninterrupted run ended.</summary>
public static class Quickstart
{
    private const int Features = 20;
    private const int Classes = 4;
    private const int Examples = 2048;
    private const int BatchSize = 64;

    /// <summary>Trains <paramref name="steps"/> steps, saving model and optimizer after <paramref name="checkpointStep"/>
    /// into <paramref name="folder"/>, then resumes from there and compares the two final models.</summary>
    /// <param name="steps">Optimizer steps in all (at least 1).</param>
    /// <param name="checkpointStep">The step after which the checkpoint is written, in [0, steps].</param>
    /// <param name="folder">Where the checkpoint files go (created if needed).</param>
    /// <param name="output">Where the progress lines go; null for none.</param>
    public static QuickstartResult Run(int steps, int checkpointStep, string folder, TextWriter? output = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(checkpointStep);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(checkpointStep, steps);
        Directory.CreateDirectory(folder);
        var modelFile = Path.Combine(folder, "model.bin");
        var optimizerFile = Path.Combine(folder, "optimizer.ckpt");
        using var data = Data.Create(seed: 1);

        // 1. A TorchSharp model, as usual.
        using var model = CreateModel(seed: 0);

        // 2. The one line that changes: ShampooMkl's Shampoo² instead of torch.optim.Adam(model.parameters(), ...).
        using var optimizer = CreateOptimizer(model);

        // 3. Train; after checkpointStep steps save the model (TorchSharp's format) and the optimizer (ShampooMkl's).
        var firstLoss = float.NaN;
        var lastLoss = float.NaN;
        for (var step = 0; step < steps; step++)
        {
            if (step == checkpointStep)
            {
                Save(model, optimizer, modelFile, optimizerFile, step, output);
            }

            lastLoss = TrainStep(model, optimizer, data, step);
            firstLoss = step == 0 ? lastLoss : firstLoss;
            if ((step + 1) % 50 == 0 || step + 1 == steps)
            {
                output?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step + 1,4}: loss {lastLoss:0.0000}"));
            }
        }

        if (checkpointStep == steps)
        {
            Save(model, optimizer, modelFile, optimizerFile, steps, output);
        }

        var accuracy = Accuracy(model, data);
        output?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trained {steps} steps: loss {firstLoss:0.0000} -> {lastLoss:0.0000}, training accuracy {accuracy:P1}"));

        // 4. Resume: a new process would do just this — build the model and optimizer, load both files, continue.
        using var resumedModel = CreateModel(seed: 12345);
        resumedModel.load(modelFile);
        using var resumedOptimizer = CreateOptimizer(resumedModel);
        resumedOptimizer.load(optimizerFile);
        for (var step = checkpointStep; step < steps; step++)
        {
            TrainStep(resumedModel, resumedOptimizer, data, step);
        }

        var uninterrupted = Snapshot(model);
        var resumed = Snapshot(resumedModel);
        var equal = uninterrupted.Zip(resumed).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));
        output?.WriteLine(equal
            ? $"resumed from step {checkpointStep}: the final parameters equal the uninterrupted run's, bit for bit"
            : $"resumed from step {checkpointStep}: the final parameters DIFFER from the uninterrupted run's");
        return new QuickstartResult(firstLoss, lastLoss, accuracy, uninterrupted, resumed, equal);
    }

    /// <summary>Linear 20→64, ReLU, Linear 64→4, initialised from <paramref name="seed"/>.</summary>
    private static nn.Module<Tensor, Tensor> CreateModel(int seed)
    {
        torch.manual_seed(seed);
        return nn.Sequential(("fc1", nn.Linear(Features, 64)), ("relu", nn.ReLU()), ("fc2", nn.Linear(64, Classes)));
    }

    /// <summary>Shampoo² (root 2, trace-normalised) with Adam grafting and β₂ = 0.999, the settings that train well here.</summary>
    private static TorchShampoo CreateOptimizer(nn.Module model) =>
        new(model.named_parameters(), ShampooOptions.ShampooSquared with
        {
            LearningRate = 5e-3,
            Grafting = GraftingType.Adam,
            Beta2 = 0.999,
            Epsilon = 1e-4,
            PreconditionFrequency = 10,
        });

    /// <summary>One step on the batch of <paramref name="step"/> (a pure function of the step, so a resumed run sees the same batches).</summary>
    private static float TrainStep(nn.Module<Tensor, Tensor> model, TorchShampoo optimizer, Data data, int step)
    {
        using var scope = torch.NewDisposeScope();
        var start = step * BatchSize % Examples;
        var x = data.X.narrow(0, start, BatchSize);
        var y = data.Y.narrow(0, start, BatchSize);
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }

    private static void Save(nn.Module model, TorchShampoo optimizer, string modelFile, string optimizerFile, int step, TextWriter? output)
    {
        model.save(modelFile);
        optimizer.save(optimizerFile);
        output?.WriteLine($"step {step,4}: saved {modelFile} and {optimizerFile}");
    }

    private static double Accuracy(nn.Module<Tensor, Tensor> model, Data data)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var predicted = model.call(data.X).argmax(1);
        return predicted.eq(data.Y).to_type(ScalarType.Float64).mean().item<double>();
    }

    private static float[][] Snapshot(nn.Module model) =>
        [.. model.parameters().Select(p => p.data<float>().ToArray())];

    /// <summary>A synthetic classification set: standard-normal inputs, labels from a fixed random linear teacher, one
    /// feature scaled by 30 so that the problem is badly conditioned (where a preconditioner helps).</summary>
    private sealed class Data : IDisposable
    {
        private Data(Tensor x, Tensor y)
        {
            X = x;
            Y = y;
        }

        public Tensor X { get; }

        public Tensor Y { get; }

        public static Data Create(int seed)
        {
            torch.manual_seed(seed);
            using var scope = torch.NewDisposeScope();
            var x = torch.randn(Examples, Features);
            x[.., 0].mul_(30);
            var teacher = torch.randn(Features, Classes);
            var y = x.matmul(teacher).argmax(1);
            return new Data(x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
        }

        public void Dispose()
        {
            X.Dispose();
            Y.Dispose();
        }
    }
}
