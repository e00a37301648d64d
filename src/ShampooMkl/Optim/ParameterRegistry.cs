using System.Globalization;
using System.Text;
using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>The flattened parameters of an optimizer with their resolved options, and the gradient checks every optimizer runs first.</summary>
internal sealed class ParameterRegistry<TOptions> where TOptions : class
{
    private readonly Parameter[] parameters;
    private readonly TOptions[] options;
    private readonly int[] groupOf;
    private readonly double[] learningRates;
    private readonly LearningRateSchedule[] schedules;
    private readonly double[] stepRates;
    private int stepping;
    private readonly double[] gradientMagnitudes;

    public ParameterRegistry(IReadOnlyList<ParameterGroup<TOptions>> groups, TOptions defaults, Action<TOptions> validate,
        Func<TOptions, double> learningRate, Func<TOptions, LearningRateSchedule> schedule)
    {
        ArgumentNullException.ThrowIfNull(learningRate);
        ArgumentNullException.ThrowIfNull(schedule);
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
            var o = Resolve(group, g, defaults, validate);
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
        learningRates = [.. groupOptions.Select(learningRate)];
        schedules = [.. groupOptions.Select(schedule)];
        stepRates = new double[learningRates.Length];
    }

    /// <summary>A group's options: the defaults with its override applied, validated.</summary>
    private static TOptions Resolve(ParameterGroup<TOptions> group, int g, TOptions defaults, Action<TOptions> validate)
    {
        if (group.Override is null)
        {
            return defaults;
        }

        var o = group.Override(defaults)
            ?? throw new ArgumentException($"The override of parameter group {g} returned null; return the options, e.g. o => o with {{ WeightDecay = 0 }}.", "groups");
        try
        {
            validate(o);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Parameter group {g}: {e.Message}", "groups", e);
        }

        return o;
    }

    /// <summary>The name of the state tensor holding every group's base learning rate.</summary>
    public const string LearningRatesName = "learningRates";

    public IReadOnlyList<Parameter> Parameters => parameters;

    public int Count => parameters.Length;

    /// <summary>The number of parameter groups (empty groups included).</summary>
    public int GroupCount => learningRates.Length;

    public TOptions Defaults { get; }

    public IReadOnlyList<TOptions> GroupOptions { get; }

    public TOptions OptionsOf(int index) => options[index];

    public int GroupOf(int index) => groupOf[index];

    /// <summary>The rate of parameter <paramref name="index"/>'s group in the running step (set by <see cref="PrepareRates"/>).</summary>
    public double StepRateOf(int index) => stepRates[groupOf[index]];

    /// <summary>The rate group <paramref name="group"/> uses at step <paramref name="step"/>: base rate times schedule factor.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not a group index.</exception>
    public double RateAt(int group, long step)
    {
        CheckGroup(group);
        return learningRates[group] * schedules[group].Factor(step);
    }

    /// <summary>Computes every group's rate for <paramref name="step"/> before anything changes, so that a user schedule
    /// returning a bad factor refuses the step instead of corrupting the parameters.</summary>
    /// <exception cref="InvalidOperationException">A schedule's factor is NaN, infinite or negative, or the schedule threw.</exception>
    public void PrepareRates(long step)
    {
        for (var g = 0; g < stepRates.Length; g++)
        {
            double factor;
            try
            {
                factor = schedules[g].Factor(step);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidOperationException($"The learning-rate schedule of parameter group {g} threw at step {step} ({e.Message}); no state was changed.", e);
            }

            if (!(factor >= 0) || double.IsInfinity(factor))
            {
                throw new InvalidOperationException(
                    $"The learning-rate schedule of parameter group {g} returned {factor} for step {step}; a factor must be finite and ≥ 0. No state was changed.");
            }

            stepRates[g] = learningRates[g] * factor;
        }
    }

    /// <summary>Group <paramref name="group"/>'s base learning rate.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="group"/> is not a group index.</exception>
    public double GetLearningRate(int group)
    {
        CheckGroup(group);
        return learningRates[group];
    }

    /// <summary>Sets group <paramref name="group"/>'s base learning rate for the following steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a group index, or a rate that is not finite and ≥ 0.</exception>
    /// <exception cref="InvalidOperationException">A step is running.</exception>
    public void SetLearningRate(int group, double learningRate)
    {
        CheckGroup(group);
        if (!(learningRate >= 0) || double.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate,
                $"The learning rate of parameter group {group} must be finite and ≥ 0.");
        }

        if (Volatile.Read(ref stepping) != 0)
        {
            throw new InvalidOperationException("The learning rate cannot change while a step is running; set it between steps.");
        }

        learningRates[group] = learningRate;
    }

    /// <summary>Marks a step as running (refusing <see cref="SetLearningRate"/>) until <see cref="EndStep"/>.</summary>
    public void BeginStep() => Volatile.Write(ref stepping, 1);

    /// <summary>Ends what <see cref="BeginStep"/> began.</summary>
    public void EndStep() => Volatile.Write(ref stepping, 0);

    /// <summary>Every group's base learning rate, as one state tensor.</summary>
    public StateTensor ExportLearningRates() =>
        StateTensor.From<double>(LearningRatesName, learningRates, learningRates.Length);

    /// <summary>Checks the base learning rates of an imported state (finite, ≥ 0), before anything changes.</summary>
    /// <exception cref="InvalidDataException">A rate out of range.</exception>
    public void CheckImportedLearningRates(IReadOnlyList<StateTensor> state)
    {
        var rates = StateTransfer.Find(state, LearningRatesName).Data;
        if (rates.Length != learningRates.Length)
        {
            throw new InvalidDataException(
                $"State tensor '{LearningRatesName}' holds {rates.Length} learning rates; this optimizer has {learningRates.Length} parameter groups.");
        }

        for (var g = 0; g < rates.Length; g++)
        {
            if (!(rates[g] >= 0) || double.IsInfinity(rates[g]))
            {
                throw new InvalidDataException($"State tensor '{LearningRatesName}' holds {rates[g]} for group {g}; a learning rate must be finite and ≥ 0.");
            }
        }
    }

    /// <summary>Copies the base learning rates of a checked state.</summary>
    public void ImportLearningRates(IReadOnlyList<StateTensor> state)
    {
        CheckImportedLearningRates(state);
        StateTransfer.Find(state, LearningRatesName).Data.CopyTo(learningRates, 0);
    }

    private void CheckGroup(int group)
    {
        if ((uint)group >= (uint)learningRates.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(group), group,
                $"There is no parameter group {group}; this optimizer has {learningRates.Length} (0 to {learningRates.Length - 1}).");
        }
    }

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
