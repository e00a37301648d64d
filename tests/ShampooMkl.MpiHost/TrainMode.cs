using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ShampooMkl.Analysis.Data;
using ShampooMkl.Analysis.Models;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Distributed;
using ShampooMkl.Linalg;
using ShampooMkl.Optim;
using ShampooMkl.Synthetic;

namespace ShampooMkl.MpiHost;

/// <summary>The <c>train</c> command: a small MLP trained with Shampoo on seeded synthetic data, in one process or data-parallel.</summary>
/// <remarks>
/// <para>Step t (1-based) trains on examples (t−1)·B … t·B − 1 modulo the data set, so a run resumed after step k sees
/// the same batches as one that never stopped. Distributed, rank r of R takes the r-th contiguous share of each batch
/// and the gradients are averaged with <see cref="DataParallelGradients"/>; <c>--shards S</c> does the same arithmetic
/// in one process, shard after shard, which for S = 2 is bit-identical to two ranks.</para>
/// <para>BLAS runs on one thread (unless <c>--threads</c>): mpirun binds each rank to one core, and the rank count must
/// not change the thread count, or the runs could not be compared bit for bit.</para>
/// <para>Output on stdout: every rank prints <c>rank R checksum=HEX</c>; rank 0 prints <c>checkpoint written step=N by rank 0</c>
/// for each save and finally <c>train ok ...</c> when every rank's parameters are identical.</para>
/// </remarks>
internal static class TrainMode
{
    private const int Examples = 256;
    private const int Features = 20;
    private const int Hidden = 24;
    private const int Classes = 5;

    /// <summary>Environment variable <c>RANK:STEP</c> or <c>RANK:STEP:checkpoint</c>: that rank exits with code 3 at the start
    /// of that step, or just before the checkpoint save after it, to test how the others fail.</summary>
    public const string DieVariable = "SHAMPOO_HOST_DIE";

    public static int Run(ICommunicator comm, string[] args)
    {
        var steps = Program.IntOption(args, "--steps", 12);
        var batch = Program.IntOption(args, "--batch", 32);
        var shards = Program.IntOption(args, "--shards", 1);
        var every = Program.IntOption(args, "--checkpoint-every", int.MaxValue);
        var threads = Program.IntOption(args, "--threads", 1);
        var distributed = args.Contains("--distributed");
        var checkpoint = Program.StringOption(args, "--checkpoint");
        var resume = Program.StringOption(args, "--resume");
        var output = Program.StringOption(args, "--out");
        var precision = Program.StringOption(args, "--precision") == "single" ? FactorPrecision.Single : FactorPrecision.Double;
        var die = ParseDie(Environment.GetEnvironmentVariable(DieVariable));
        var world = distributed ? comm : null;
        var rank = world?.Rank ?? 0;
        var ranks = world?.Size ?? 1;
        if (distributed && shards != 1)
        {
            throw new ArgumentException("--shards emulates ranks in one process; it cannot be combined with --distributed.");
        }

        BlasBackend.Default.SetThreads(threads);
        var (inputs, labels) = Data();
        var model = new Mlp([Hidden], Features, Classes, maxBatchSize: batch, seed: 7);
        var options = ShampooOptions.Shampoo with
        {
            LearningRate = 0.02,
            MaxPreconditionerDim = 8,
            StartPreconditioningStep = 2,
            PreconditionFrequency = 3,
            Beta2 = 0.99,
            Epsilon = 1e-8,
            Grafting = GraftingType.Adam,
            FactorPrecision = precision,
            RootMethod = Linalg.InverseRootMethod.EigenbasisWarmStart,
            FullEigendecompositionEvery = 2,
        };
        using var optimizer = new Shampoo(model.Parameters, options, communicator: world);
        var reducer = world is null ? null : new DataParallelGradients(world, model.Parameters);
        if (resume is not null)
        {
            if (world is null)
            {
                Checkpoint.Load(optimizer, resume);
            }
            else
            {
                DistributedCheckpoint.Load(world, optimizer, resume);
            }
        }

        var sums = model.Parameters.Select(p => new float[p.Length]).ToArray();
        var x = new float[batch * Features];
        var y = new byte[batch];
        var loss = 0.0;
        for (var step = optimizer.StepCount + 1; step <= steps; step++)
        {
            if (die is { Step: var dieStep, AtCheckpoint: false } && dieStep == step && die.Value.Rank == rank)
            {
                Die(rank, $"at step {step}");
            }

            Batch(inputs, labels, step, batch, x, y);
            if (world is not null)
            {
                var (start, count) = DataParallelGradients.ShareOf(batch, rank, ranks);
                var local = count == 0 ? 0.0 : Gradient(model, x, y, start, count);
                if (count == 0)
                {
                    foreach (var p in model.Parameters)
                    {
                        Array.Clear(p.Gradient);
                    }
                }

                loss = reducer!.AllReduceMean(count, batch, local);
            }
            else if (shards == 1)
            {
                loss = model.ForwardBackward(x, y, batch);
            }
            else
            {
                loss = 0;
                for (var s = 0; s < shards; s++)
                {
                    var (start, count) = DataParallelGradients.ShareOf(batch, s, shards);
                    loss += Gradient(model, x, y, start, count) * count / batch;
                    for (var k = 0; k < sums.Length; k++)
                    {
                        DataParallelGradients.AddShard(model.Parameters[k].Gradient, s, count, batch, sums[k]);
                    }
                }

                for (var k = 0; k < sums.Length; k++)
                {
                    sums[k].CopyTo(model.Parameters[k].Gradient, 0);
                }
            }

            var result = optimizer.Step();
            if (!result.Applied)
            {
                throw new InvalidOperationException($"Step {step} was skipped: {result.Message}");
            }

            if (checkpoint is not null && step % every == 0)
            {
                if (die is { AtCheckpoint: true } && die.Value.Step == step && die.Value.Rank == rank)
                {
                    Die(rank, $"before the checkpoint save of step {step}");
                }

                if (world is null)
                {
                    Checkpoint.Save(optimizer, checkpoint);
                }
                else
                {
                    DistributedCheckpoint.Save(world, optimizer, checkpoint);
                }

                if (rank == 0)
                {
                    Console.WriteLine($"checkpoint written step={step} by rank {comm.Rank}");
                }
            }
        }

        var checksum = DataParallelGradients.ParameterChecksum(model.Parameters);
        Console.WriteLine($"rank {rank} checksum={checksum:X16}");
        var failures = world is null || DataParallelGradients.ReplicasAgree(world, model.Parameters) ? 0 : 1;
        if (rank == 0 && output is not null)
        {
            using var file = File.Create(output);
            foreach (var p in model.Parameters)
            {
                file.Write(MemoryMarshal.AsBytes(p.Value.AsSpan()));
            }
        }

        var details = string.Create(CultureInfo.InvariantCulture,
            $"ranks={ranks} shards={shards} steps={optimizer.StepCount} checksum={checksum:X16} loss={loss:R} refreshes={optimizer.Statistics.RefreshedBlocks}");
        return world is null
            ? Report(failures, details, "train")
            : Program.Agree(world, "train", failures, details);
    }

    /// <summary>The <c>trainer</c> command: the same model and data through <see cref="Trainer"/> (shuffled epochs, checkpoint
    /// folders), data-parallel with <c>--distributed</c>.</summary>
    public static int RunTrainer(ICommunicator comm, string[] args)
    {
        var epochs = Program.IntOption(args, "--epochs", 2);
        var hidden = Program.IntOption(args, "--hidden", Hidden);
        var learningRate = double.Parse(Program.StringOption(args, "--lr") ?? "0.02", CultureInfo.InvariantCulture);
        var pause = TimeSpan.FromMilliseconds(Program.IntOption(args, "--pause-ms", 0));
        var world = args.Contains("--distributed") ? comm : null;
        var folder = Program.StringOption(args, "--checkpoint");
        var output = Program.StringOption(args, "--out");
        BlasBackend.Default.SetThreads(1);
        var (inputs, labels) = Data();
        var data = new LabeledImages(inputs, labels, Features);
        var model = new Mlp([hidden], Features, Classes, maxBatchSize: 32, seed: 7);
        using var optimizer = new Shampoo(model.Parameters, ShampooOptions.Shampoo with
        {
            LearningRate = learningRate,
            MaxPreconditionerDim = 8,
            PreconditionFrequency = 3,
            Beta2 = 0.99,
            Grafting = GraftingType.Adam,
        }, communicator: world);
        var trainer = new Trainer(model, optimizer, new TrainerOptions
        {
            Epochs = epochs,
            BatchSize = 32,
            Seed = 5,
            CheckpointDirectory = folder,
            Resume = folder is not null && args.Contains("--resume"),
            ModelName = "mlp-20-24-5",
            OptimizerName = "shampoo",
            Communicator = world,
        });
        var report = trainer.Train(data, data, pause > TimeSpan.Zero ? new PausingObserver(pause, world?.Rank ?? 0) : null);
        var rank = world?.Rank ?? 0;
        var checksum = DataParallelGradients.ParameterChecksum(model.Parameters);
        Console.WriteLine($"rank {rank} checksum={checksum:X16}");
        if (rank == 0 && output is not null)
        {
            using var file = File.Create(output);
            foreach (var p in model.Parameters)
            {
                file.Write(MemoryMarshal.AsBytes(p.Value.AsSpan()));
            }
        }

        var details = string.Create(CultureInfo.InvariantCulture,
            $"ranks={world?.Size ?? 1} epochs={report.Epochs.Count} resumedAfter={report.ResumedAfterEpoch} checksum={checksum:X16} trainLoss={report.Epochs[^1].TrainLoss:R}");
        return world is null ? Report(0, details, "trainer") : Program.Agree(world, "trainer", 0, details);
    }

    /// <summary>The <c>bench-refresh</c> command: mean wall time of a step that refreshes every block, per rank count.</summary>
    /// <remarks>Rank 0's <see cref="OptimizerStatistics.RefreshTime"/> includes waiting for the slowest rank (the refresh
    /// outcomes are exchanged before it is read), so it is the job's refresh time.</remarks>
    public static int BenchRefresh(ICommunicator comm, string[] args)
    {
        var model = Program.StringOption(args, "--model") ?? "mlp";
        var iterations = Program.IntOption(args, "--iterations", 3);
        var parallelism = Program.IntOption(args, "--parallelism", 0);
        var threadedMinDim = Program.IntOption(args, "--threaded-min-dim", ShampooOptions.Shampoo.ThreadedRefreshMinDim);
        var world = comm.Size > 1 ? comm : null;
        var parameters = model switch
        {
            "mlp" => SyntheticWorkload.MlpWithGradients(),
            "blocked8x1024" => [SyntheticWorkload.Blocked8x1024()],
            _ => throw new ArgumentException($"unknown --model '{model}': use mlp or blocked8x1024"),
        };
        var options = ShampooOptions.Shampoo with
        {
            StartPreconditioningStep = 1,
            PreconditionFrequency = 1,
            MaxPreconditionerDim = 1024,
            RefreshParallelism = parallelism,
            ThreadedRefreshMinDim = threadedMinDim,
        };
        using var optimizer = new Shampoo(parameters, options, communicator: world);
        optimizer.Step();
        var before = optimizer.Statistics.RefreshTime;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            optimizer.Step();
        }

        var step = clock.Elapsed.TotalMilliseconds / iterations;
        var refresh = (optimizer.Statistics.RefreshTime - before).TotalMilliseconds / iterations;
        if (comm.Rank == 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench-refresh model={model} ranks={comm.Size} blocks={optimizer.Statistics.RefreshedBlocks / (iterations + 1)} " +
                $"blasThreads={BlasBackend.Default.MaxThreads} processors={Environment.ProcessorCount} threadedMinDim={threadedMinDim} " +
                $"iterations={iterations} refresh={refresh:F1}ms step={step:F1}ms load={File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        }

        return world is null ? 0 : Program.Agree(world, "bench-refresh", 0, $"size={comm.Size}");
    }

    private static double Gradient(Mlp model, float[] x, byte[] y, int start, int count) =>
        model.ForwardBackward(x.AsSpan(start * Features, count * Features), y.AsSpan(start, count), count);

    /// <summary>Seeded examples whose labels a random linear teacher assigns, so there is something to learn.</summary>
    private static (float[] Inputs, byte[] Labels) Data()
    {
        var random = new Random(2024);
        var teacher = new double[Classes * Features];
        for (var i = 0; i < teacher.Length; i++)
        {
            teacher[i] = random.NextDouble() - 0.5;
        }

        var inputs = new float[Examples * Features];
        var labels = new byte[Examples];
        for (var e = 0; e < Examples; e++)
        {
            for (var f = 0; f < Features; f++)
            {
                inputs[(e * Features) + f] = (float)((random.NextDouble() * 2) - 1);
            }

            var best = 0;
            var bestScore = double.NegativeInfinity;
            for (var c = 0; c < Classes; c++)
            {
                var score = 0.0;
                for (var f = 0; f < Features; f++)
                {
                    score += teacher[(c * Features) + f] * inputs[(e * Features) + f];
                }

                if (score > bestScore)
                {
                    (best, bestScore) = (c, score);
                }
            }

            labels[e] = (byte)best;
        }

        return (inputs, labels);
    }

    private static void Batch(float[] inputs, byte[] labels, long step, int batch, float[] x, byte[] y)
    {
        for (var i = 0; i < batch; i++)
        {
            var e = (int)((((step - 1) * batch) + i) % Examples);
            inputs.AsSpan(e * Features, Features).CopyTo(x.AsSpan(i * Features, Features));
            y[i] = labels[e];
        }
    }

    private static (int Rank, long Step, bool AtCheckpoint)? ParseDie(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var parts = text.Split(':');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture),
            parts.Length > 2 && parts[2] == "checkpoint");
    }

    private static void Die(int rank, string when)
    {
        Console.Error.WriteLine($"[rank {rank}] dying {when} (test)");
        Console.Error.Flush();
        Environment.Exit(3);
    }

    private static int Report(int failures, string details, string command)
    {
        Console.WriteLine(failures == 0 ? $"{command} ok {details}" : $"{command} FAILED ({details})");
        return failures == 0 ? 0 : 1;
    }
}
