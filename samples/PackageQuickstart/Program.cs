// PackageQuickstart: ShampooMkl used as a NuGet package by a program that owns its model (a two-layer tanh network
// with a hand-written backward pass) and its data (a regression on correlated input features scaled from 1e-3 to 1e3).
// It checks four claims and exits 1 if any fails:
//   1. Shampoo² (ShampooOptions.RecommendedShampooSquared) ends at a lower loss than AdamW after the same steps;
//   2. SetLearningRate between steps changes the rate the next step uses;
//   3. two parameter groups (weights; biases without weight decay) both follow the default WarmupCosine schedule;
//   4. a checkpoint saved to a MemoryStream and loaded into a fresh optimizer resumes bit for bit.
using PackageQuickstart;
using ShampooMkl.Optim;

const int Steps = 300;
const int RateChangeStep = 150;   // after this step, every group's base rate is halved
const int CheckpointStep = 225;   // the resumed run starts from a checkpoint taken after this step
const int Features = 16, Hidden = 32, DataSeed = 7, ModelSeed = 11;

var data = new ScaledRegression(samples: 512, Features, DataSeed);
var schedule = LearningRateSchedule.WarmupCosine(warmupSteps: 20, totalSteps: Steps, finalFactor: 0.1);
var failures = new List<string>();
void Claim(bool holds, string what)
{
    Console.WriteLine($"{(holds ? "PASS" : "FAIL")}: {what}");
    if (!holds)
    {
        failures.Add(what);
    }
}

Console.WriteLine($"Regression {Features}→{Hidden}→1 (tanh), {data.Samples} samples, correlated inputs scaled 1e-3 … 1e3, {Steps} full-batch steps.");

// The defaults every group starts from; the bias group overrides only its weight decay, so it keeps the schedule.
var shampooDefaults = ShampooOptions.RecommendedShampooSquared with { Schedule = schedule, WeightDecay = 1e-4 };
Shampoo NewShampoo(TwoLayerNet net) =>
    new([new ParameterGroup(net.Weights), new ParameterGroup(net.Biases, o => o with { WeightDecay = 0 })], shampooDefaults);

// AdamW with the same rate, schedule, weight decay and groups.
var adamDefaults = AdamWOptions.Default with { LearningRate = shampooDefaults.LearningRate, Schedule = schedule, WeightDecay = 1e-4 };
AdamW NewAdamW(TwoLayerNet net) =>
    new([new ParameterGroup<AdamWOptions>(net.Weights), new ParameterGroup<AdamWOptions>(net.Biases, o => o with { WeightDecay = 0 })], adamDefaults);

// Trains steps from+1 … to; returns false if a step was refused or the rate did not behave as claimed.
bool Train(TwoLayerNet net, TrainingOptimizer optimizer, int from, int to, bool print)
{
    var ok = true;
    for (var step = from + 1; step <= to; step++)
    {
        var loss = net.LossAndGradient(data);
        var expected = Enumerable.Range(0, optimizer.GroupCount).Select(g => optimizer.GetLearningRate(g) * schedule.Factor(step)).ToArray();
        var current = Enumerable.Range(0, optimizer.GroupCount).Select(optimizer.GetCurrentLearningRate).ToArray();
        ok &= current.SequenceEqual(expected);   // each group's next rate is its base rate times the shared schedule
        if (print && (step == 1 || step % 50 == 0))
        {
            Console.WriteLine($"  {optimizer.Name,-8} step {step,3}  loss {loss,10:E3}  lr weights {current[0]:E3}  lr biases {current[1]:E3}");
        }

        var result = optimizer.Step();
        if (!result.Applied)
        {
            Console.WriteLine($"  {optimizer.Name} step {step} was not applied: {result.Message}");
            return false;
        }

        if (step == RateChangeStep)
        {
            for (var g = 0; g < optimizer.GroupCount; g++)
            {
                var before = optimizer.GetCurrentLearningRate(g);
                optimizer.SetLearningRate(g, optimizer.GetLearningRate(g) / 2);
                var after = optimizer.GetCurrentLearningRate(g);
                ok &= after < before && optimizer.GetLearningRate(g) == shampooDefaults.LearningRate / 2;
                if (print)
                {
                    Console.WriteLine($"  {optimizer.Name,-8} after step {step}: SetLearningRate(group {g}) halved the base rate; next step's rate {before:E3} -> {after:E3}");
                }
            }
        }
    }

    return ok;
}

// 1-3: Shampoo² and AdamW from the same initial weights.
var shampooNet = new TwoLayerNet(Features, Hidden, ModelSeed);
using var shampoo = NewShampoo(shampooNet);
var shampooRates = Train(shampooNet, TrainingOptimizer.Of(shampoo), 0, Steps, print: true);
var shampooLoss = shampooNet.LossAndGradient(data);

var adamNet = new TwoLayerNet(Features, Hidden, ModelSeed);
using var adamw = NewAdamW(adamNet);
var adamRates = Train(adamNet, TrainingOptimizer.Of(adamw), 0, Steps, print: true);
var adamLoss = adamNet.LossAndGradient(data);

Console.WriteLine($"Final loss after {Steps} steps: Shampoo² {shampooLoss:E3}, AdamW {adamLoss:E3} ({adamLoss / shampooLoss:F2}× Shampoo²'s).");
Claim(shampooLoss < adamLoss, $"Shampoo² (RecommendedShampooSquared) reaches a lower loss than AdamW after {Steps} steps");
Claim(shampooRates && adamRates, $"SetLearningRate after step {RateChangeStep} halved the next rate of both groups; both groups followed the default WarmupCosine schedule");
Claim(shampoo.GroupOptions.All(o => o.Schedule == schedule) && shampoo.GroupOptions[1].WeightDecay == 0 && shampoo.GroupOptions[0].WeightDecay == 1e-4,
    "the bias group overrides only WeightDecay and inherits the default schedule");

// 4: train to the checkpoint, save it to a stream, load it into a fresh optimizer over a differently initialised
// model (the checkpoint holds the parameters too), and finish; the result must equal the uninterrupted run.
var firstNet = new TwoLayerNet(Features, Hidden, ModelSeed);
using var stream = new MemoryStream();
using (var first = NewShampoo(firstNet))
{
    Train(firstNet, TrainingOptimizer.Of(first), 0, CheckpointStep, print: false);
    Checkpoint.Save(first, stream);
}

var resumedNet = new TwoLayerNet(Features, Hidden, ModelSeed + 1);
using var resumed = NewShampoo(resumedNet);
stream.Position = 0;
Checkpoint.Load(resumed, stream);
Console.WriteLine($"Checkpoint after step {CheckpointStep}: {stream.Length:N0} bytes in a MemoryStream; loaded into a fresh optimizer at step {resumed.StepCount}.");
Train(resumedNet, TrainingOptimizer.Of(resumed), CheckpointStep, Steps, print: false);
Claim(resumedNet.BitEquals(shampooNet), $"the run resumed from the step-{CheckpointStep} checkpoint ends bit for bit where the uninterrupted run ended");

Console.WriteLine(failures.Count == 0 ? "All claims hold." : $"{failures.Count} claim(s) failed.");
return failures.Count == 0 ? 0 : 1;
