using System.Globalization;
using System.Text;
using ShampooMkl.Linalg;

namespace ShampooMkl.Optim;

/// <summary>The flattened parameters of an optimizer with their resolved options, and the gradient checks every optimizer runs first.</summary>
internal sealed class ParameterRegistry<TOptions> where TOptions : class
{
    private readonly Parameter[] parameters;
    private readonly TOptions[] options;
    private readonly int[] groupOf;
    private readonly double[] gradientMagnitudes;

    public ParameterRegistry(IReadOnlyList<ParameterGroup<TOptions>> groups, TOptions defaults, Action<TOptions> validate)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(defaults);
        validate(defaults);
        var flat = new List<Parameter>();
        var resolved = new List<TOptions>();
        var groupIndex = new List<int>();
        var groupOptions = new List<TOptions>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g] ?? throw new ArgumentException($"Parameter group {g} is null.", nameof(groups));
            ArgumentNullException.ThrowIfNull(group.Parameters, $"groups[{g}].Parameters");
            var o = group.Options ?? defaults;
            validate(o);
            groupOptions.Add(o);
            foreach (var p in group.Parameters)
            {
                if (p is null)
                {
                    throw new ArgumentException($"Parameter group {g} contains a null parameter.", nameof(groups));
                }

                if (!seen.Add(p))
                {
                    throw new ArgumentException($"Parameter '{p.Name}' appears more than once; each parameter belongs to one group.", nameof(groups));
                }

                // Names key the checkpoint entries, so they must identify a parameter.
                if (!names.Add(p.Name))
                {
                    throw new ArgumentException($"Two parameters are named '{p.Name}'; names must be unique.", nameof(groups));
                }

                flat.Add(p);
                resolved.Add(o);
                groupIndex.Add(g);
            }
        }

        if (flat.Count == 0)
        {
            throw new ArgumentException("An optimizer needs at least one parameter.", nameof(groups));
        }

        parameters = [.. flat];
        options = [.. resolved];
        groupOf = [.. groupIndex];
        gradientMagnitudes = new double[parameters.Length];
        GroupOptions = groupOptions;
        Defaults = defaults;
    }

    public IReadOnlyList<Parameter> Parameters => parameters;

    public int Count => parameters.Length;

    public TOptions Defaults { get; }

    public IReadOnlyList<TOptions> GroupOptions { get; }

    public TOptions OptionsOf(int index) => options[index];

    public int GroupOf(int index) => groupOf[index];

    /// <summary>max |g| of each parameter's gradient as of the last <see cref="CheckGradients"/> that found them all
    /// finite (measured in the same pass as the finiteness test).</summary>
    public ReadOnlySpan<double> GradientMagnitudes => gradientMagnitudes;

    /// <summary>Throws for a gradient of the wrong length, disposed memory or overlapping values and gradient; returns
    /// the index of the first parameter with a non-finite gradient, or −1. Buffers are checked for all parameters before
    /// finiteness, so a programming error is reported even when another gradient is NaN.</summary>
    /// <exception cref="ArgumentException">A gradient of another length than its parameter, or one that overlaps the values.</exception>
    /// <exception cref="ObjectDisposedException">The memory behind a parameter's values or gradient was disposed.</exception>
    public int CheckGradients()
    {
        foreach (var p in parameters)
        {
            p.CheckBuffers();
        }

        for (var i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            var magnitude = p.ElementType == ParameterPrecision.Single
                ? FiniteCheck.MaxMagnitude<float>(p.GetGradient<float>())
                : FiniteCheck.MaxMagnitude<double>(p.GetGradient<double>());
            if (!double.IsFinite(magnitude))
            {
                return i;
            }

            gradientMagnitudes[i] = magnitude;
        }

        return -1;
    }

    /// <summary>The message of a skipped step.</summary>
    public string SkipMessage(int index, long step) =>
        $"Step {step} skipped: the gradient of parameter '{parameters[index].Name}' contains NaN or infinite values; no state was changed.";

    /// <summary>The default options and every group's, one per line, for a checkpoint header.</summary>
    public string DescribeOptions()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"defaults: {Defaults}");
        for (var g = 0; g < GroupOptions.Count; g++)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"group {g}: {GroupOptions[g]}");
        }

        return text.ToString();
    }

    /// <summary>A one-line identity of parameter <paramref name="index"/> for checkpoint signatures.</summary>
    public string Describe(int index) =>
        $"{parameters[index].Name} [{string.Join("×", parameters[index].Shape)}] group {groupOf[index]}";
}
