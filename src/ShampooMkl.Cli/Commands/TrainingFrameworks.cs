using ShampooMkl.Analysis.Training;
using ShampooMkl.TorchSharp.Training;

namespace ShampooMkl.Cli.Commands;

/// <summary>The <c>--framework</c> names and which models, optimizers and options each framework accepts.</summary>
/// <remarks>Only names are compared here: nothing loads libtorch, so a command line is checked on any machine.</remarks>
internal static class TrainingFrameworks
{
    private static readonly string[] names = ["core", "torchsharp"];

    /// <summary>The command-line names, in <see cref="TrainingFramework"/> order.</summary>
    public static IReadOnlyList<string> Names => names;

    /// <summary>Parses a command-line name (case-insensitive); false for an unknown one.</summary>
    public static bool TryParse(string? name, out TrainingFramework framework)
    {
        var index = Array.IndexOf(names, (name ?? "").Trim().ToLowerInvariant());
        framework = (TrainingFramework)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>Parses a command-line name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static TrainingFramework Parse(string name) =>
        TryParse(name, out var framework) ? framework : throw new ArgumentException(UnknownMessage(name), nameof(name));

    /// <summary>The command-line name of a framework.</summary>
    public static string Name(TrainingFramework framework) => names[(int)framework];

    /// <summary>The error for an unknown framework name.</summary>
    public static string UnknownMessage(string? name) => $"Unknown framework '{name}'; choose one of: {string.Join(", ", Names)}.";

    /// <summary>One line per problem with this combination of framework, model, optimizer and options; empty when it is valid.</summary>
    /// <remarks>A name that exists only in the other framework gets a message saying which <c>--framework</c> it needs; a name
    /// that exists nowhere gets the framework's list of choices (the core framework's messages are those of
    /// <see cref="ModelFactory"/> and <see cref="OptimizerPresets"/>).</remarks>
    public static IEnumerable<string> Check(TrainingFramework framework, string? model, string? optimizer, bool checkpoint, bool distributed)
    {
        if (framework == TrainingFramework.Core)
        {
            if (!ModelFactory.TryParse(model, out _))
            {
                yield return TorchModelFactory.TryParse(model, out _)
                    ? $"--model {model} is a TorchSharp model; add --framework torchsharp (core models: {string.Join(", ", ModelFactory.Names)})."
                    : ModelFactory.UnknownMessage(model);
            }

            if (!OptimizerPresets.TryParse(optimizer, out _))
            {
                yield return TorchOptimizerPresets.TryParse(optimizer, out _)
                    ? $"--optimizer {optimizer} trains TorchSharp models only; add --framework torchsharp (core optimizers: {string.Join(", ", OptimizerPresets.Names)})."
                    : OptimizerPresets.UnknownMessage(optimizer);
            }

            if (distributed && OptimizerPresets.TryParse(optimizer, out var kind) && kind == OptimizerKind.Soap)
            {
                yield return "--optimizer soap is not available with --distributed (SOAP runs on one rank); drop --distributed, or use shampoo2 or shampoo.";
            }

            yield break;
        }

        if (!TorchModelFactory.TryParse(model, out _))
        {
            yield return ModelFactory.TryParse(model, out _)
                ? $"--model {model} exists only with --framework core; TorchSharp models: {string.Join(", ", TorchModelFactory.Names)}."
                : TorchModelFactory.UnknownMessage(model);
        }

        if (!TorchOptimizerPresets.TryParse(optimizer, out _))
        {
            yield return OptimizerPresets.TryParse(optimizer, out _)
                ? $"--optimizer {optimizer} exists only with --framework core; TorchSharp optimizers: {string.Join(", ", TorchOptimizerPresets.Names)}."
                : TorchOptimizerPresets.UnknownMessage(optimizer);
        }

        if (checkpoint)
        {
            yield return "--checkpoint is not supported with --framework torchsharp; use --framework core, or save with module.save and the optimizer's save_state_dict (see samples/TorchSharpQuickstart).";
        }

        if (distributed)
        {
            yield return "--distributed is not supported with --framework torchsharp; use --framework core for data-parallel training.";
        }
    }
}
