using ShampooMkl.Optim;

namespace ShampooMkl.Distributed;

/// <summary>Data-parallel gradient averaging: every rank's gradients become the example-weighted mean over all ranks.</summary>
/// <remarks>
/// <para>Each rank scales its gradients (the mean over its own examples) by its share of the examples,
/// g_r ← fl(g_r · n_r / N) in fp32, and one <see cref="ICommunicator.AllReduceSum(Span{float})"/> over all parameters
/// packed into one buffer sums them. The result differs from one process's gradient of the whole batch in the last
/// bits: the model sums each shard's examples first, then the ranks' shares are added.</para>
/// <para>Every rank must end with the same bits, or the replicas drift apart. With two ranks this holds by IEEE
/// (a + b = b + a, exactly); with more, Open MPI's reduction algorithms (recursive doubling, ring) also give every
/// rank the same sums, which the MPI standard recommends but does not promise, so training checks its replicas
/// (e.g. <see cref="ParameterChecksum"/>).</para>
/// <para><see cref="AddShard"/> reproduces the two-rank arithmetic in one process, shard after shard.</para>
/// </remarks>
public sealed class DataParallelGradients
{
    private readonly ICommunicator communicator;
    private readonly IReadOnlyList<Parameter> parameters;
    private readonly float[] packed;
    private readonly double[] scalar = new double[1];

    /// <summary>Prepares the packed buffer for <paramref name="parameters"/> (the same list, in the same order, on every rank).</summary>
    public DataParallelGradients(ICommunicator communicator, IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.FirstOrDefault(p => p.ElementType != ParameterPrecision.Single) is { } wide)
        {
            throw new ArgumentException($"Parameter '{wide.Name}' is fp64; data-parallel gradients are averaged for fp32 parameters only.", nameof(parameters));
        }

        this.communicator = communicator;
        this.parameters = parameters;
        packed = new float[parameters.Sum(p => (long)p.Length) is var n && n <= Array.MaxLength ? (int)n
            : throw new NotSupportedException($"{n} gradient elements exceed one buffer.")];
    }

    /// <summary>Collective: replaces every parameter's gradient (in place, whatever memory is bound) with Σ_r (n_r / N)·g_r over the ranks.</summary>
    /// <param name="localExamples">Examples this rank's gradients average over (0: its gradients are ignored).</param>
    /// <param name="totalExamples">Examples over all ranks, N.</param>
    /// <returns>The weighted mean over ranks of <paramref name="localLoss"/> (the loss of the whole batch).</returns>
    /// <param name="localLoss">This rank's mean loss over its examples.</param>
    /// <remarks>Allocates nothing.</remarks>
    public double AllReduceMean(int localExamples, int totalExamples, double localLoss = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(localExamples);
        ArgumentOutOfRangeException.ThrowIfLessThan(totalExamples, 1);
        var weight = Weight(localExamples, totalExamples);
        var at = 0;
        foreach (var p in parameters)
        {
            Scale(p.GetGradient<float>(), weight, packed.AsSpan(at, p.Length));
            at += p.Length;
        }

        communicator.AllReduceSum(packed);
        at = 0;
        foreach (var p in parameters)
        {
            packed.AsSpan(at, p.Length).CopyTo(p.GetGradient<float>());
            at += p.Length;
        }

        scalar[0] = localLoss * weight;
        communicator.AllReduceSum(scalar);
        return scalar[0];
    }

    /// <summary>Rank <paramref name="rank"/>'s contiguous share of a batch of <paramref name="batch"/> examples: the first
    /// (batch mod ranks) ranks take one example more; a rank may get none when the batch is smaller than the job.</summary>
    public static (int Start, int Count) ShareOf(int batch, int rank, int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, ranks);
        var baseCount = batch / ranks;
        var extra = batch % ranks;
        return ((rank * baseCount) + Math.Min(rank, extra), baseCount + (rank < extra ? 1 : 0));
    }

    /// <summary>One process doing what two ranks do: adds shard <paramref name="shard"/>'s scaled gradient into
    /// <paramref name="sum"/> (the first shard overwrites it), so the result equals a two-rank
    /// <see cref="AllReduceMean"/> bit for bit.</summary>
    public static void AddShard(ReadOnlySpan<float> gradient, int shard, int localExamples, int totalExamples, Span<float> sum)
    {
        var weight = Weight(localExamples, totalExamples);
        if (shard == 0)
        {
            // Copying rather than adding to zero keeps the sign of a −0, as the two-rank sum s₀ + s₁ does.
            Scale(gradient, weight, sum);
            return;
        }

        for (var i = 0; i < gradient.Length; i++)
        {
            sum[i] += (float)(gradient[i] * weight);
        }
    }

    /// <summary>A 64-bit hash of every parameter's bits; equal on every rank exactly when the replicas are identical.</summary>
    public static ulong ParameterChecksum(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        // FNV-1a over the raw bits: a cheap, order-sensitive fingerprint (not a cryptographic one).
        var hash = 14695981039346656037UL;
        foreach (var p in parameters)
        {
            if (p.ElementType == ParameterPrecision.Single)
            {
                foreach (var v in p.GetValues<float>())
                {
                    hash = (hash ^ BitConverter.SingleToUInt32Bits(v)) * 1099511628211UL;
                }
            }
            else
            {
                foreach (var v in p.GetValues<double>())
                {
                    hash = (hash ^ BitConverter.DoubleToUInt64Bits(v)) * 1099511628211UL;
                }
            }
        }

        return hash;
    }

    /// <summary>Collective: whether <paramref name="parameters"/> are bit-identical on every rank (rank 0's checksum, broadcast, against each rank's).</summary>
    public static bool ReplicasAgree(ICommunicator communicator, IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        var mine = ParameterChecksum(parameters);
        var fromRoot = new[] { mine };
        communicator.Broadcast<ulong>(fromRoot, 0);
        var disagreements = new[] { fromRoot[0] == mine ? 0.0 : 1.0 };
        communicator.AllReduceSum(disagreements);
        return disagreements[0] == 0;
    }

    private static double Weight(int localExamples, int totalExamples) => (double)localExamples / totalExamples;

    private static void Scale(ReadOnlySpan<float> gradient, double weight, Span<float> destination)
    {
        for (var i = 0; i < gradient.Length; i++)
        {
            destination[i] = (float)(gradient[i] * weight);
        }
    }
}
