using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using ShampooMkl.Distributed;
using ShampooMkl.Optim;

namespace ShampooMkl.MpiHost;

/// <summary>One process of an MPI job run by the integration tests: each subcommand exercises one collective.</summary>
/// <remarks>
/// Protocol the tests rely on: rank 0 prints one line "&lt;command&gt; ok ..." to stdout when every rank verified
/// its result, and every rank exits 0; any failure is printed to stderr prefixed with the rank and the exit code
/// is non-zero. Results are agreed on by a final sum of failure counts, so no rank reports success alone.
/// </remarks>
internal static class Program
{
    private const string Usage = """
        usage: ShampooMkl.MpiHost <command> [--count N] [--iterations K]
          info                   rank, size and library of every rank
          allreduce              sum of rank-dependent double and float vectors; checks no allocation per call
          allgatherv             uneven counts (one rank sends nothing), gaps, int/long/double/struct elements
          bcast                  doubles, an options string as bytes, structs; root is the last rank
          ownership              every rank computes BlockOwnership alone; all must agree
          signals                NullReferenceException / DivideByZeroException still work after MPI_Init
          mismatch               root broadcasts more than the others expect: CollectiveMismatchException on every rank, then in step
          sizes                  mismatched all-reduce lengths, an empty span against a full one, different collectives:
                                 CollectiveMismatchException on every rank each time, then a matching call succeeds
          stall                  rank 1 sleeps --iterations seconds before a collective: the others time out (SHAMPOO_MPI_TIMEOUT)
          die exit|throw|abort|argument   rank 1 fails before a collective the others are waiting in
          bench                  time AllReduceSum of --count doubles (default 1048576)
          train                  Shampoo on a small MLP and seeded data: [--steps K] [--batch B] [--distributed | --shards S]
                                 [--checkpoint FILE --checkpoint-every C] [--resume FILE] [--out FILE] [--precision single]
                                 [--threads N]; SHAMPOO_HOST_DIE=RANK:STEP[:checkpoint] makes a rank exit there
          trainer                the same through Trainer: [--epochs E] [--distributed] [--checkpoint DIR [--resume]] [--out FILE]
                                 [--hidden H] [--lr RATE] [--pause-ms MS: print and wait after each epoch]
          bench-refresh          time of a step refreshing every block: [--model mlp|blocked8x1024] [--iterations K]
                                 [--parallelism P] [--threaded-min-dim D]; distributed when run on several ranks
        """;

    private static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var command = args[0];
        var count = IntOption(args, "--count", command == "bench" ? 1 << 20 : 1003);
        var iterations = IntOption(args, "--iterations", 50);
        if (command == "die")
        {
            // Owns its failure path: the point is what happens when a rank does not catch.
            return Die(args.Length > 1 ? args[1] : "exit");
        }

        using var comm = Communicators.FromEnvironment();
        // mpirun ends the surviving ranks with SIGTERM when one fails; say why before the runtime exits.
        using var terminated = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ =>
            Console.Error.WriteLine($"[rank {comm.Rank}] stopped by SIGTERM: mpirun ends the job because another rank failed"));
        try
        {
            return command switch
            {
                "info" => Info(comm),
                "allreduce" => AllReduce(comm, count),
                "allgatherv" => AllGatherV(comm),
                "bcast" => Bcast(comm, count),
                "ownership" => Ownership(comm),
                "signals" => Signals(comm),
                "mismatch" => Mismatch(comm, count),
                "sizes" => Sizes(comm),
                "stall" => Stall(comm, iterations),
                "bench" => Bench(comm, count, iterations),
                "train" => TrainMode.Run(comm, args),
                "trainer" => TrainMode.RunTrainer(comm, args),
                "bench-refresh" => TrainMode.BenchRefresh(comm, args),
                _ => UnknownCommand(command),
            };
        }
        catch (Exception e) when (e is RankMismatchException or CollectiveMismatchException)
        {
            // Thrown on every rank at the same call: the ranks are in step and MPI finalises normally.
            Console.Error.WriteLine($"[rank {comm.Rank}] {e.GetType().Name}: {e.Message}");
            return 3;
        }
        catch (MpiTimeoutException e)
        {
            Console.Error.WriteLine($"[rank {comm.Rank}] {e.GetType().Name}: {e.Message}");
            comm.Abort(4);
            return 4;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[rank {comm.Rank}] {e}");
            if (comm.Size > 1)
            {
                // The other ranks may be inside a collective this rank will never join.
                comm.Abort(1);
            }

            return 1;
        }
    }

    private static int UnknownCommand(string command)
    {
        Console.Error.WriteLine($"unknown command '{command}'");
        Console.Error.WriteLine(Usage);
        return 2;
    }

    private static int Info(ICommunicator comm)
    {
        var text = $"rank {comm.Rank} of {comm.Size}: {comm}";
        Console.WriteLine(text);
        return Agree(comm, "info", 0, $"size={comm.Size}");
    }

    private static int AllReduce(ICommunicator comm, int count)
    {
        var rank = comm.Rank;
        var doubles = new double[count];
        var floats = new float[count];
        for (var i = 0; i < count; i++)
        {
            doubles[i] = (rank + 1) * ((i % 1000) + 1);
            floats[i] = (rank + 1) * ((i % 1000) + 1);
        }

        comm.AllReduceSum(doubles);
        comm.AllReduceSum(floats);

        // Small integers: the sums are exact in both precisions, so equality is the right test.
        var rankSum = comm.Size * (comm.Size + 1) / 2;
        var failures = 0;
        for (var i = 0; i < count; i++)
        {
            double expected = rankSum * ((i % 1000) + 1);
            if (doubles[i] != expected || floats[i] != (float)expected)
            {
                if (failures++ < 5)
                {
                    Console.Error.WriteLine($"[rank {rank}] element {i}: double {doubles[i]}, float {floats[i]}, expected {expected}");
                }
            }
        }

        var allocated = AllocatedByCollectives(comm);
        if (allocated != 0)
        {
            Console.Error.WriteLine($"[rank {rank}] collectives allocated {allocated} bytes");
            failures++;
        }

        return Agree(comm, "allreduce", failures, $"size={comm.Size} count={count} allocated={allocated}");
    }

    /// <summary>Managed bytes this thread allocates in repeated collective calls, after a warm-up.</summary>
    private static long AllocatedByCollectives(ICommunicator comm)
    {
        var d = new double[64];
        var f = new float[64];
        var send = new int[2];
        var receive = new int[2 * comm.Size];
        var counts = new int[comm.Size];
        var displacements = new int[comm.Size];
        for (var r = 0; r < comm.Size; r++)
        {
            counts[r] = 2;
            displacements[r] = 2 * r;
        }

        var bytes = new byte[16];
        long before = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            // Pass 0 warms up (JIT, first-call set-up); only pass 1 is measured.
            before = GC.GetAllocatedBytesForCurrentThread();
            for (var k = 0; k < 20; k++)
            {
                comm.AllReduceSum(d);
                comm.AllReduceSum(f);
                comm.AllGatherV<int>(send, receive, counts, displacements);
                comm.Broadcast<byte>(bytes, 0);
                comm.Barrier();
            }
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>An element type MPI has no name for, so it travels as bytes (with its padding).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private record struct Sample(int Id, double Value, byte Flag);

    private static int AllGatherV(ICommunicator comm)
    {
        var failures = 0;
        foreach (var lastRankSendsNothing in new[] { false, true })
        {
            var counts = new int[comm.Size];
            var displacements = new int[comm.Size];
            var total = 0;
            for (var r = 0; r < comm.Size; r++)
            {
                counts[r] = lastRankSendsNothing && r == comm.Size - 1 ? 0 : 2 + (3 * r);
                displacements[r] = total;
                total += counts[r] + 1; // a one-element gap after each rank, which must stay untouched
            }

            failures += GatherAndCheck(comm, counts, displacements, total, (r, j) => (1000.0 * r) + j + 0.5, -1.0);
            failures += GatherAndCheck(comm, counts, displacements, total, (r, j) => (1000 * r) + j, -1);
            failures += GatherAndCheck(comm, counts, displacements, total, (r, j) => (1L << 40) + (1000L * r) + j, -1L);
            failures += GatherAndCheck(comm, counts, displacements, total, (r, j) => new Sample(r, j * 0.25, (byte)(r + j)), new Sample(-1, -1, 255));
        }

        return Agree(comm, "allgatherv", failures, $"size={comm.Size}");
    }

    private static int GatherAndCheck<T>(ICommunicator comm, int[] counts, int[] displacements, int total, Func<int, int, T> value, T sentinel)
        where T : unmanaged, IEquatable<T>
    {
        var send = new T[counts[comm.Rank]];
        for (var j = 0; j < send.Length; j++)
        {
            send[j] = value(comm.Rank, j);
        }

        var receive = new T[total];
        Array.Fill(receive, sentinel);
        comm.AllGatherV<T>(send, receive, counts, displacements);

        var expected = new T[total];
        Array.Fill(expected, sentinel);
        for (var r = 0; r < comm.Size; r++)
        {
            for (var j = 0; j < counts[r]; j++)
            {
                expected[displacements[r] + j] = value(r, j);
            }
        }

        var failures = 0;
        for (var i = 0; i < total; i++)
        {
            if (!receive[i].Equals(expected[i]) && failures++ < 5)
            {
                Console.Error.WriteLine($"[rank {comm.Rank}] {typeof(T).Name} element {i}: {receive[i]}, expected {expected[i]}");
            }
        }

        return failures;
    }

    private static int Bcast(ICommunicator comm, int count)
    {
        var root = comm.Size - 1;
        var isRoot = comm.Rank == root;
        var failures = 0;

        var values = new double[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = isRoot ? (i * 0.25) + 7 : double.NaN;
        }

        comm.Broadcast<double>(values, root);
        for (var i = 0; i < count; i++)
        {
            if (values[i] != (i * 0.25) + 7 && failures++ < 5)
            {
                Console.Error.WriteLine($"[rank {comm.Rank}] double {i}: {values[i]}");
            }
        }

        // Option agreement as a real caller does it: the length first, then the bytes.
        var options = $"lr=0.001;beta2=0.999;root={root}";
        var length = new int[] { isRoot ? Encoding.UTF8.GetByteCount(options) : -1 };
        comm.Broadcast<int>(length, root);
        var bytes = isRoot ? Encoding.UTF8.GetBytes(options) : new byte[length[0]];
        comm.Broadcast<byte>(bytes, root);
        var received = Encoding.UTF8.GetString(bytes);
        if (received != options)
        {
            Console.Error.WriteLine($"[rank {comm.Rank}] options '{received}', expected '{options}'");
            failures++;
        }

        var samples = new Sample[7];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = isRoot ? new Sample(i, i * 1.5, (byte)i) : default;
        }

        comm.Broadcast<Sample>(samples, root);
        for (var i = 0; i < samples.Length; i++)
        {
            if (samples[i] != new Sample(i, i * 1.5, (byte)i))
            {
                Console.Error.WriteLine($"[rank {comm.Rank}] sample {i}: {samples[i]}");
                failures++;
            }
        }

        comm.Barrier();
        return Agree(comm, "bcast", failures, $"size={comm.Size} root={root} count={count}");
    }

    private static int Ownership(ICommunicator comm)
    {
        // Shapes every rank derives from the same seed, like layer shapes from a model definition.
        var random = new Random(20240611);
        var costs = new double[37];
        for (var i = 0; i < costs.Length; i++)
        {
            costs[i] = BlockOwnership.InverseRootCost(64 << random.Next(5), 64 << random.Next(5));
        }

        var ownership = BlockOwnership.Assign(costs, comm.Size);
        var failures = 0;

        var fromRoot = ownership.Owners.ToArray();
        comm.Broadcast<int>(fromRoot, 0);
        if (!ownership.Owners.SequenceEqual(fromRoot))
        {
            Console.Error.WriteLine($"[rank {comm.Rank}] computed a different assignment from rank 0");
            failures++;
        }

        // Each item must be claimed by exactly one rank.
        var claims = new double[costs.Length];
        foreach (var item in ownership.ItemsOf(comm.Rank))
        {
            claims[item] = 1;
        }

        comm.AllReduceSum(claims);
        var badClaims = claims.Count(c => c != 1);
        if (badClaims != 0)
        {
            Console.Error.WriteLine($"[rank {comm.Rank}] {badClaims} items not owned by exactly one rank");
            failures++;
        }

        return Agree(comm, "ownership", failures, $"size={comm.Size} items={costs.Length} imbalance={ownership.Imbalance.ToString("F3", CultureInfo.InvariantCulture)}");
    }

    private static int Signals(ICommunicator comm)
    {
        // The runtime maps SIGSEGV/SIGFPE to exceptions; MPI_Init must not have replaced those handlers.
        var failures = 0;
        string? nothing = Environment.GetEnvironmentVariable("SHAMPOO_SURELY_UNSET_VARIABLE");
        try
        {
            _ = nothing!.Length;
            failures++;
        }
        catch (NullReferenceException)
        {
        }

        var zero = comm.Size - comm.Size;
        try
        {
            _ = comm.Rank / zero;
            failures++;
        }
        catch (DivideByZeroException)
        {
        }

        comm.Barrier();
        return Agree(comm, "signals", failures, $"size={comm.Size}");
    }

    private static int Mismatch(ICommunicator comm, int count)
    {
        // A program bug MPI would turn into MPI_ERR_TRUNCATE on some ranks only: the root sends more than the others posted room for.
        var values = new double[comm.Rank == 0 ? count + 16 : count];
        var failures = ExpectMismatch(comm, () => comm.Broadcast<double>(values, 0), "MPI_Bcast");
        failures += Array.Exists(values, v => v != 0) ? 1 : 0;
        return Agree(comm, "mismatch", failures, $"size={comm.Size}");
    }

    private static int Sizes(ICommunicator comm)
    {
        var failures = 0;
        var floats = new float[10 * (comm.Rank + 1)];
        Array.Fill(floats, 1f);
        failures += ExpectMismatch(comm, () => comm.AllReduceSum(floats), "MPI_Allreduce (float)");
        failures += Array.Exists(floats, v => v != 1f) ? 1 : 0;
        failures += ExpectMismatch(comm, () => comm.AllReduceSum(comm.Rank == 0 ? Span<double>.Empty : new double[3]), "MPI_Allreduce (double)");
        if (comm.Rank == 0)
        {
            failures += ExpectMismatch(comm, () => comm.Broadcast<double>(new double[4], 0), "MPI_Bcast");
        }
        else
        {
            failures += ExpectMismatch(comm, () => comm.AllReduceSum(new double[4]), "MPI_Allreduce (double)");
        }

        // Still in step: a matching call sums as usual.
        var sum = new double[] { comm.Rank + 1 };
        comm.AllReduceSum(sum);
        failures += sum[0] == comm.Size * (comm.Size + 1) / 2 ? 0 : 1;
        return Agree(comm, "sizes", failures, $"size={comm.Size}");
    }

    /// <summary>0 when <paramref name="call"/> threw <see cref="CollectiveMismatchException"/> (printed), else 1.</summary>
    private static int ExpectMismatch(ICommunicator comm, Action call, string function)
    {
        try
        {
            call();
            Console.Error.WriteLine($"[rank {comm.Rank}] UNEXPECTED: mismatched {function} returned");
            return 1;
        }
        catch (CollectiveMismatchException e)
        {
            Console.Error.WriteLine($"[rank {comm.Rank}] mismatch in {e.Function}: {e.Message}");
            return 0;
        }
    }

    private static int Stall(ICommunicator comm, int seconds)
    {
        if (comm.Rank == 1)
        {
            Console.Error.WriteLine($"[rank 1] stalling {seconds} s before the collective");
            Thread.Sleep(TimeSpan.FromSeconds(seconds));
        }

        var values = new double[8];
        comm.AllReduceSum(values);
        return Agree(comm, "stall", 0, $"size={comm.Size}");
    }

    private static int Die(string mode)
    {
        var comm = Communicators.FromEnvironment();
        if (comm.Size < 2)
        {
            Console.Error.WriteLine("die needs at least 2 ranks");
            return 2;
        }

        var buffer = new double[16];
        if (comm.Rank == 1)
        {
            Console.Error.WriteLine($"[rank 1] failing ({mode}) before the collective");
            switch (mode)
            {
                case "exit":
                    Environment.Exit(3);
                    break;
                case "abort":
                    comm.Abort(3);
                    break;
                case "throw":
                    using (comm)
                    {
                        throw new InvalidOperationException("rank 1 fails on purpose");
                    }

                case "argument":
                    using (comm)
                    {
                        // A bug the communicator rejects before communicating: counts for the wrong job size.
                        comm.AllGatherV<double>(buffer, new double[64], new int[1], new int[1]);
                    }

                    break;
                default:
                    Console.Error.WriteLine($"unknown die mode '{mode}': use exit, throw, abort or argument");
                    comm.Abort(2);
                    break;
            }
        }

        Console.Error.WriteLine($"[rank {comm.Rank}] waiting in AllReduceSum");
        comm.AllReduceSum(buffer);
        Console.WriteLine($"[rank {comm.Rank}] UNEXPECTED: AllReduceSum returned although rank 1 failed");
        comm.Dispose();
        return 0;
    }

    private static int Bench(ICommunicator comm, int count, int iterations)
    {
        var doubles = new double[count];
        var floats = new float[count];
        doubles.AsSpan().Fill(1);
        floats.AsSpan().Fill(1);
        var (dMin, dMedian, dMean) = Time(comm, iterations, () => comm.AllReduceSum(doubles));
        var (fMin, fMedian, fMean) = Time(comm, iterations, () => comm.AllReduceSum(floats));
        if (comm.Rank == 0)
        {
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"bench allreduce double count={count} bytes={count * 8L} size={comm.Size} iterations={iterations} min={dMin:F3}ms median={dMedian:F3}ms mean={dMean:F3}ms"));
            Console.WriteLine(string.Create(inv, $"bench allreduce float count={count} bytes={count * 4L} size={comm.Size} iterations={iterations} min={fMin:F3}ms median={fMedian:F3}ms mean={fMean:F3}ms"));
        }

        return Agree(comm, "bench", 0, $"size={comm.Size}");
    }

    private static (double Min, double Median, double Mean) Time(ICommunicator comm, int iterations, Action body)
    {
        for (var i = 0; i < 5; i++)
        {
            body();
        }

        var times = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            // Start together, so each sample is the collective and not a wait for a late rank.
            comm.Barrier();
            var start = Stopwatch.GetTimestamp();
            body();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return (times[0], times[iterations / 2], times.Average());
    }

    /// <summary>Sums failure counts over all ranks; rank 0 reports; every rank returns the common verdict.</summary>
    internal static int Agree(ICommunicator comm, string command, int failures, string details)
    {
        var total = new double[] { failures };
        comm.AllReduceSum(total);
        if (comm.Rank == 0)
        {
            Console.WriteLine(total[0] == 0 ? $"{command} ok {details}" : $"{command} FAILED: {total[0]} failures over all ranks ({details})");
        }

        return total[0] == 0 ? 0 : 1;
    }

    /// <summary>The value after <paramref name="name"/>, or null when the option is absent.</summary>
    internal static string? StringOption(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        if (index < 0)
        {
            return null;
        }

        return index + 1 < args.Length ? args[index + 1] : throw new ArgumentException($"{name} needs a value");
    }

    internal static int IntOption(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        if (index < 0)
        {
            return fallback;
        }

        if (index + 1 >= args.Length || !int.TryParse(args[index + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 1)
        {
            throw new ArgumentException($"{name} needs a positive integer");
        }

        return value;
    }
}
