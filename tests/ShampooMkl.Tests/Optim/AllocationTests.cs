using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>A training step that refreshes no roots allocates no managed memory, with every feature switched on.</summary>
/// <remarks>Counted per thread (other tests run in parallel). Each optimizer first takes warm-up steps so that every
/// code path of the measured steps has been JIT-compiled and the buffer pool holds its blocks.</remarks>
// The refresh test changes OpenBLAS's process-wide thread count in its one-thread phase, so it runs apart.
[Collection(nameof(BlasThreadSettings))]
public class AllocationTests
{
    private const int MeasuredSteps = 20;

    public static TheoryData<FactorPrecision> Precisions => new() { FactorPrecision.Single, FactorPrecision.Double };

    [Theory]
    [MemberData(nameof(Precisions))]
    public void ShampooSteps_AllocateNothing_BeforeAndAfterPreconditioningStarts(FactorPrecision precision)
    {
        var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var gradients = Enumerable.Range(1, 2).Select(s => parameters.Select((p, k) => OptimTestData.Gradient(p.Length, k, s)).ToArray()).ToArray();
        using var optimizer = new Shampoo(parameters, ShampooOptions.ShampooSquared with
        {
            FactorPrecision = precision,
            MaxPreconditionerDim = 4,
            Grafting = GraftingType.Adam,
            Nesterov = true,
            Beta2 = 0.99,
            WeightDecay = 0.01,
            Schedule = LearningRateSchedule.WarmupCosine(5, 1000),
            StartPreconditioningStep = 30,
            PreconditionFrequency = 1000,
        });

        void Step(int i)
        {
            var g = gradients[i % 2];
            for (var k = 0; k < parameters.Length; k++)
            {
                g[k].CopyTo(parameters[k].Gradient, 0);
            }

            optimizer.Step();
        }

        // Steps 1–3 warm up the grafting-only path, 4–23 are measured on it.
        AssertNoAllocation(Step, warmUp: 3, what: "grafting-only steps");
        // Steps 24–29 still graft only; 30 refreshes the roots (allowed to allocate); 31–33 warm up Shampoo's path.
        for (var i = 0; i < 10; i++)
        {
            Step(i);
        }

        Assert.Equal(33, optimizer.StepCount);
        Assert.Equal(1, optimizer.Statistics.RootRefreshes);
        AssertNoAllocation(Step, warmUp: 0, what: "preconditioned steps");
    }

    /// <summary>Refresh steps allocate nothing either, on the calling thread or on the scheduler's helper threads: nine
    /// 4×4 blocks refreshed two at a time, every step.</summary>
    [Fact]
    public void RefreshSteps_AllocateNothing_OnAnyThread()
    {
        var parameter = new Parameter("w", SeededRandom.GaussianSingle(5, 144), 12, 12);
        using var optimizer = new Shampoo([parameter], ShampooOptions.Shampoo with
        {
            FactorPrecision = FactorPrecision.Single,
            MaxPreconditionerDim = 4,
            PreconditionFrequency = 1,
            RefreshParallelism = 2,
            DominantRefreshMinDim = int.MaxValue,
        });

        // Preallocated, so the hook itself allocates nothing: per block start, the thread and its allocation counter.
        var threads = new int[4096];
        var bytes = new long[4096];
        var recorded = 0;
        var measuring = false;
        var rendezvous = new TwoThreadRendezvous();
        optimizer.Scheduler.BlockStarting = (_, _) =>
        {
            if (Volatile.Read(ref measuring))
            {
                var n = Interlocked.Increment(ref recorded) - 1;
                threads[n] = Environment.CurrentManagedThreadId;
                bytes[n] = GC.GetAllocatedBytesForCurrentThread();
                // Both the caller and a helper run blocks of every measured refresh, so both paths are measured for sure.
                rendezvous.Arrive();
            }
        };

        var gradients = new[] { OptimTestData.Gradient(parameter.Length, 0, 1), OptimTestData.Gradient(parameter.Length, 0, 2) };
        void Step(int i)
        {
            gradients[i % 2].CopyTo(parameter.Gradient, 0);
            rendezvous.Reset();
            optimizer.Step();
        }

        for (var i = 0; i < 5; i++)
        {
            Step(i);
        }

        Volatile.Write(ref measuring, true);
        AssertNoAllocation(Step, warmUp: 0, what: "refresh steps (calling thread)");
        Volatile.Write(ref measuring, false);

        Assert.Equal(MeasuredSteps * 9, recorded);
        var perThread = Enumerable.Range(0, recorded).GroupBy(n => threads[n]).ToList();
        Assert.True(perThread.Count >= 2, "The single-threaded phase never ran on a helper thread.");
        foreach (var group in perThread)
        {
            var first = bytes[group.First()];
            var last = bytes[group.Last()];
            Assert.True(first == last, $"Thread {group.Key} allocated {last - first} bytes over {group.Count()} block refreshes.");
        }
    }

    [Fact]
    public void BaselineSteps_AllocateNothing()
    {
        var p1 = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var p2 = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var adam = new AdamW(p1);
        using var sgd = new Sgd(p2, new SgdOptions { Nesterov = true, WeightDecay = 0.1 });
        AssertNoAllocation(_ => adam.Step(), warmUp: 3, what: "AdamW");
        AssertNoAllocation(_ => sgd.Step(), warmUp: 3, what: "SGD");
    }

    private static void AssertNoAllocation(Action<int> step, int warmUp, string what)
    {
        for (var i = 0; i < warmUp; i++)
        {
            step(i);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < MeasuredSteps; i++)
        {
            step(i);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{what}: {MeasuredSteps} steps allocated {allocated} managed bytes.");
    }
}
