using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace ShampooMkl.Cli.Commands;

/// <summary>Every numeric option of the CLI: parsed and range-checked in one custom parser, so a bad value is one parse
/// error naming the option, the value and the accepted range, and nothing ever reads a value that did not parse.</summary>
/// <remarks>Why not validators: System.CommandLine runs an option's validators even after its value failed to convert,
/// and reading the value there throws; a custom parser reports conversion and range in the same place instead.</remarks>
internal static class NumericOptions
{
    /// <summary>A whole number in [<paramref name="minimum"/>, <paramref name="maximum"/>] (invariant culture, no sign for
    /// positives, no fraction, no exponent).</summary>
    public static Option<int> Int(string name, string description, int defaultValue, int minimum, int maximum) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => ParseInt(result, name, minimum, maximum) ?? defaultValue,
        };

    /// <summary>An optional whole number in [<paramref name="minimum"/>, <paramref name="maximum"/>]; null when not given.</summary>
    public static Option<int?> OptionalInt(string name, string description, string helpName, int minimum, int maximum) =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = result => ParseInt(result, name, minimum, maximum),
        };

    /// <summary>A finite real number in [<paramref name="minimum"/>, <paramref name="maximum"/>], exclusive of
    /// <paramref name="minimum"/> when <paramref name="minimumExclusive"/>.</summary>
    public static Option<double> Double(string name, string description, double defaultValue, double minimum, bool minimumExclusive, double maximum) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => ParseDouble(result, name, minimum, minimumExclusive, maximum) ?? defaultValue,
        };

    /// <summary>An optional finite real number in (0, <paramref name="maximum"/>]; null when not given.</summary>
    public static Option<double?> OptionalPositiveDouble(string name, string description, string helpName, double maximum) =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = result => ParseDouble(result, name, 0, minimumExclusive: true, maximum),
        };

    /// <summary>The most BLAS threads any option accepts: a few per logical processor. Far more oversubscribes the
    /// machine for no gain, and Intel OpenMP aborts the process when asked for tens of thousands.</summary>
    public static int MaxThreads => Math.Max(64, 4 * Environment.ProcessorCount);

    private static int? ParseInt(ArgumentResult result, string name, int minimum, int maximum)
    {
        var text = result.Tokens.Count == 0 ? "" : result.Tokens[^1].Value;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            result.AddError($"{name} '{text}' is not a whole number; give one from {minimum:N0} to {maximum:N0}.");
            return null;
        }

        if (value < minimum || value > maximum)
        {
            result.AddError($"{name} {text} is out of range; give a whole number from {minimum:N0} to {maximum:N0}.");
            return null;
        }

        return (int)value;
    }

    private static double? ParseDouble(ArgumentResult result, string name, double minimum, bool minimumExclusive, double maximum)
    {
        var text = result.Tokens.Count == 0 ? "" : result.Tokens[^1].Value;
        var range = string.Create(CultureInfo.InvariantCulture, $"{(minimumExclusive ? "greater than" : "at least")} {minimum:G} and at most {maximum:G}");
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            result.AddError($"{name} '{text}' is not a finite number; give one {range}.");
            return null;
        }

        if ((minimumExclusive ? value <= minimum : value < minimum) || value > maximum)
        {
            result.AddError($"{name} {text} is out of range; give a number {range}.");
            return null;
        }

        return value;
    }
}
