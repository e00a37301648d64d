using SharpFuzz;
using ShampooMkl.Fuzz;

// The fuzz harness of the .npy and checkpoint readers; fuzz/README.md has the commands.
//   <target> seed <folder>                     write the seed corpus
//   <target> afl                               run under afl-fuzz (SharpFuzz's out-of-process mode; instrument first)
//   <target> replay <file or folder>...        run inputs once each, report findings, exit 1 if any
//   <target> mutate <seconds> <corpus> <out>   a plain coverage-free mutation loop, findings saved into <out>
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: ShampooMkl.Fuzz npy|checkpoint seed|afl|replay|mutate ... (see fuzz/README.md)");
    return 2;
}

// Created on first use: instrumented library code must not run before SharpFuzz has attached afl's shared memory
// (the Parameter constructor of the checkpoint target dies of an access violation otherwise).
Func<FuzzTarget> create = args[0] switch
{
    "npy" => () => new NpyTarget(),
    "checkpoint" => () => new CheckpointTarget(),
    _ => throw new ArgumentException($"unknown target '{args[0]}': use npy or checkpoint"),
};

if (args[1] == "afl")
{
    FuzzTarget? lazy = null;
    Fuzzer.OutOfProcess.Run(stream =>
    {
        lazy ??= create();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        lazy.Run(copy.ToArray());
    });
    return 0;
}

using var target = create();
switch (args[1])
{
    case "seed":
        Directory.CreateDirectory(args[2]);
        foreach (var (name, bytes) in target.Seeds())
        {
            File.WriteAllBytes(Path.Combine(args[2], name), bytes);
        }

        return 0;
    case "replay":
        var findings = 0;
        foreach (var file in args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p) : [p]).Order(StringComparer.Ordinal))
        {
            try
            {
                target.Run(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                findings++;
                Console.WriteLine($"{file}: {e.GetType().Name}: {e.Message}");
            }
        }

        Console.WriteLine($"replay: {findings} finding(s)");
        return findings == 0 ? 0 : 1;
    case "mutate":
        return new MutationLoop(target, int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args[3], args[4]).Run();
    default:
        Console.Error.WriteLine($"unknown mode '{args[1]}'");
        return 2;
}
