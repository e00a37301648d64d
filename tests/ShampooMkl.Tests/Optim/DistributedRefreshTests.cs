using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>Two ranks as two threads of this process (<see cref="InProcessCommunicator"/>): a distributed refresh step
/// allocates nothing on either rank, and a failing block is reported alike on every rank.</summary>
[Collection(nameof(BlasThreadSettings))]
public class DistributedRefreshTests
{
    private const int Ranks = 2;

    [Fact]
    public void DistributedRefreshSteps_AllocateNothing_OnEveryRank()
    {
        var options = ShampooOptions.Shampoo with
        {
            FactorPrecision = FactorPrecision.Single,
            MaxPreconditionerDim = 4,
            PreconditionFrequency = 1,
            RefreshParallelism = 1,
            DominantRefreshMinDim = int.MaxValue,
        };
        var allocated = new long[Ranks];
        var refreshed = new long[Ranks];
        var values = new float[Ranks][];
        RunRanks((rank, communicator) =>
        {
            var parameters = OptimTestData.Parameters(OptimTestData.SmallShapes);
            var gradients = Enumerable.Range(1, 2).Select(s => parameters.Select((p, k) => OptimTestData.Gradient(p.Length, k, s)).ToArray()).ToArray();
            using var optimizer = new Shampoo(parameters, options, communicator: communicator);
            void Step(int i)
            {
                for (var k = 0; k < parameters.Length; k++)
                {
                    gradients[i % 2][k].CopyTo(parameters[k].Gradient, 0);
                }

                Assert.True(optimizer.Step().RefreshedRoots);
            }

            for (var i = 0; i < 4; i++)
            {
                Step(i);
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 10; i++)
            {
                Step(i);
            }

            allocated[rank] = GC.GetAllocatedBytesForCurrentThread() - before;
            refreshed[rank] = optimizer.Statistics.RefreshedBlocks;
            values[rank] = parameters.SelectMany(p => p.Value).ToArray();
            Assert.NotNull(optimizer.Ownership);
            Assert.True(optimizer.Ownership!.ItemsOf(0).Length > 0 && optimizer.Ownership.ItemsOf(1).Length > 0, "Both ranks must own blocks.");
        });

        for (var rank = 0; rank < Ranks; rank++)
        {
            Assert.True(allocated[rank] == 0, $"Rank {rank}: 10 distributed refresh steps allocated {allocated[rank]} managed bytes.");
        }

        Assert.Equal(refreshed[0], refreshed[1]);
        Assert.Equal(values[0], values[1]);
    }

    [Fact]
    public void FailingBlocks_AreCountedAndLoggedAlike_OnEveryRank_AsInOneProcess()
    {
        // p = 1/1000: the block with eigenvalues below 1 gets an infinite root and fails; the other's eigenvalues are all
        // near 10⁴, so its root is 0 (finite) and succeeds.
        var options = ShampooOptions.Shampoo with
        {
            FactorPrecision = FactorPrecision.Single,
            MaxPreconditionerDim = 4,
            PreconditionFrequency = 1,
            Grafting = GraftingType.Sgd,
            Beta1 = 0,
            LearningRate = 1e-22,
            RefreshParallelism = 1,
            Root = 1e-3,
        };
        Parameter[] Model(out float[] gradient)
        {
            var w = new Parameter("w", new float[32], 8, 4);
            gradient = SeededRandom.GaussianSingle(3, 32).Select(x => 0.01f * x).ToArray();
            for (var i = 0; i < 4; i++)
            {
                gradient[16 + (4 * i) + i] = 100f;
            }
            gradient.CopyTo(w.Gradient, 0);
            return [w];
        }

        var single = Model(out _);
        using var reference = new Shampoo(single, options);
        var expected = reference.Step();
        Assert.Equal(1, reference.Statistics.FailedRootBlocks);

        var logs = new IReadOnlyList<string>[Ranks];
        var failed = new long[Ranks];
        var messages = new string?[Ranks];
        var owners = new (int Failing, int Other)[Ranks];
        RunRanks((rank, communicator) =>
        {
            var parameters = Model(out _);
            using var optimizer = new Shampoo(parameters, options, communicator: communicator);
            messages[rank] = optimizer.Step().Message;
            logs[rank] = optimizer.Statistics.Log.ToArray();
            failed[rank] = optimizer.Statistics.FailedRootBlocks;
            owners[rank] = (optimizer.Ownership!.OwnerOf(0), optimizer.Ownership.OwnerOf(1));
        });

        // One rank owns the failing block and the other learns its outcome as numbers only.
        Assert.Equal(owners[0], owners[1]);
        Assert.NotEqual(owners[0].Failing, owners[0].Other);
        for (var rank = 0; rank < Ranks; rank++)
        {
            Assert.Equal(1, failed[rank]);
            Assert.Equal(expected.Message, messages[rank]);
            Assert.Equal(reference.Statistics.Log, logs[rank]);
        }
    }

    /// <summary>Runs <paramref name="body"/> once per rank on its own thread and rethrows the first failure.</summary>
    internal static void RunRanks(Action<int, ICommunicator> body)
    {
        var communicators = InProcessCommunicator.Create(Ranks);
        var errors = new Exception?[Ranks];
        var threads = Enumerable.Range(0, Ranks).Select(rank => new Thread(() =>
        {
            try
            {
                body(rank, communicators[rank]);
            }
            catch (Exception e)
            {
                errors[rank] = e;
            }
        }) { IsBackground = true }).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            Assert.True(t.Join(TimeSpan.FromMinutes(2)), "A rank did not finish (deadlock in a collective?).");
        }

        foreach (var e in errors)
        {
            if (e is not null)
            {
                throw new AggregateException(e);
            }
        }
    }
}
