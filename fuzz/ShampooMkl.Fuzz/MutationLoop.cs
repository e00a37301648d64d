using System.Diagnostics;

namespace ShampooMkl.Fuzz;

/// <summary>A plain, coverage-free mutation loop for machines without afl-fuzz: corpus inputs mutated by bit flips,
/// byte sets, interesting integers over 1, 2, 4 or 8 bytes, insertions, deletions and splices, with a fixed seed.</summary>
internal sealed class MutationLoop(FuzzTarget target, int seconds, string corpus, string findings)
{
    private static readonly long[] Interesting = [0, 1, -1, 127, 128, 255, 256, 32767, 65535, int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue, 1L << 31, 1L << 32, 1L << 40];

    public int Run()
    {
        var inputs = Directory.EnumerateFiles(corpus).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        if (inputs.Count == 0)
        {
            Console.Error.WriteLine($"'{corpus}' holds no inputs; write the seeds first.");
            return 2;
        }

        var random = new Random(12345);
        var clock = Stopwatch.StartNew();
        long runs = 0, found = 0;
        var signatures = new HashSet<string>(StringComparer.Ordinal);
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var input = Mutate(inputs[random.Next(inputs.Count)], inputs[random.Next(inputs.Count)], random);
            runs++;
            try
            {
                target.Run(input);
            }
            catch (Exception e)
            {
                // One saved input per exception type and throwing method; the rest are counted.
                found++;
                var signature = $"{e.GetType().Name}-{e.TargetSite?.Name}";
                if (signatures.Add(signature))
                {
                    Directory.CreateDirectory(findings);
                    var name = Path.Combine(findings, $"{target.Name}-{signature}-{runs}.bin");
                    File.WriteAllBytes(name, input);
                    Console.WriteLine($"{name}: {e.GetType().Name}: {e.Message}");
                }
            }
        }

        Console.WriteLine($"mutate {target.Name}: {runs} runs in {clock.Elapsed.TotalSeconds:0} s, {found} finding(s) of {signatures.Count} kind(s)");
        return found == 0 ? 0 : 1;
    }

    private static byte[] Mutate(byte[] input, byte[] other, Random random)
    {
        var bytes = new List<byte>(input);
        var count = 1 + random.Next(4);
        for (var k = 0; k < count; k++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 2:
                    var width = 1 << random.Next(4);
                    var value = BitConverter.GetBytes(Interesting[random.Next(Interesting.Length)]);
                    for (var i = 0; i < width && at + i < bytes.Count; i++)
                    {
                        bytes[at + i] = value[i];
                    }

                    break;
                case 3:
                    bytes.InsertRange(at, Enumerable.Range(0, 1 + random.Next(16)).Select(_ => (byte)random.Next(256)));
                    break;
                case 4 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(16)));
                    break;
                default:
                    if (other.Length > 0)
                    {
                        var from = random.Next(other.Length);
                        bytes.InsertRange(at, other.Skip(from).Take(1 + random.Next(32)));
                    }

                    break;
            }
        }

        return [.. bytes];
    }
}
