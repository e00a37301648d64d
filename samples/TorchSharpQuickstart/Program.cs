using TorchSharpQuickstart;

// dotnet run --project samples/TorchSharpQuickstart -c Release [-- steps checkpointStep]
var steps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 300;
var checkpointStep = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : steps / 2;
var folder = Path.Combine(Path.GetTempPath(), "torchsharp-quickstart");
var result = Quickstart.Run(steps, checkpointStep, folder, Console.Out);
return result.ResumedEqualsUninterrupted ? 0 : 1;
