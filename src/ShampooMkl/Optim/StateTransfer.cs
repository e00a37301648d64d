using ShampooMkl.Linalg;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Optim;

/// <summary>Helpers shared by the optimizers' export and import: name prefixes, structural checks, all-or-nothing import.</summary>
internal static class StateTransfer
{
    public const string StepName = "step";

    /// <summary>Adds <paramref name="tensors"/> to <paramref name="into"/> with <paramref name="prefix"/> before each name.</summary>
    public static void AddPrefixed(List<StateTensor> into, string prefix, IEnumerable<StateTensor> tensors)
    {
        foreach (var t in tensors)
        {
            into.Add(t with { Name = prefix + t.Name });
        }
    }

    /// <summary>The tensors whose names start with <paramref name="prefix"/>, with the prefix removed.</summary>
    public static List<StateTensor> Under(IReadOnlyList<StateTensor> state, string prefix)
    {
        var result = new List<StateTensor>();
        foreach (var t in state)
        {
            if (t.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                result.Add(t with { Name = t.Name[prefix.Length..] });
            }
        }

        return result;
    }

    /// <summary>Finds a tensor by exact name.</summary>
    public static StateTensor Find(IReadOnlyList<StateTensor> state, string name)
    {
        foreach (var t in state)
        {
            if (t.Name == name)
            {
                return t;
            }
        }

        throw new InvalidDataException($"State tensor '{name}' is missing.");
    }

    /// <summary>Reads a non-negative integer counter stored as a scalar.</summary>
    public static long Counter(IReadOnlyList<StateTensor> state, string name)
    {
        var value = StateTensorLookup.Scalar(state, name);
        if (value < 0 || value != Math.Floor(value) || value > (1L << 53))
        {
            throw new InvalidDataException($"State scalar '{name}' = {value} is not a valid counter.");
        }

        return (long)value;
    }

    /// <summary>Checks that <paramref name="incoming"/> has exactly the tensors of <paramref name="live"/> (same names,
    /// shapes and lengths, no extra ones) and only finite values.</summary>
    /// <exception cref="InvalidDataException">The first difference, by name.</exception>
    public static void CheckSameStructure(IReadOnlyList<StateTensor> live, IReadOnlyList<StateTensor> incoming)
    {
        var byName = new Dictionary<string, StateTensor>(StringComparer.Ordinal);
        foreach (var t in incoming)
        {
            if (t is null || t.Name is null || t.Shape is null || t.Data is null)
            {
                throw new InvalidDataException("The state holds an incomplete tensor entry.");
            }

            if (!byName.TryAdd(t.Name, t))
            {
                throw new InvalidDataException($"State tensor '{t.Name}' appears twice.");
            }
        }

        foreach (var expected in live)
        {
            if (!byName.Remove(expected.Name, out var actual))
            {
                throw new InvalidDataException($"State tensor '{expected.Name}' is missing.");
            }

            // An empty tensor on either side is optional state whose owner checks it (an eigenbasis exists only after
            // the first warm-started refresh), so only its presence is required here.
            var optional = expected.Data.Length == 0 || actual.Data.Length == 0;
            if (!optional && (!expected.Shape.AsSpan().SequenceEqual(actual.Shape) || expected.Data.Length != actual.Data.Length))
            {
                throw new InvalidDataException(
                    $"State tensor '{expected.Name}' has shape [{string.Join("×", actual.Shape)}] ({actual.Data.Length} values); this optimizer needs [{string.Join("×", expected.Shape)}] ({expected.Data.Length}).");
            }

            if (!FiniteCheck.All<double>(actual.Data))
            {
                throw new InvalidDataException($"State tensor '{expected.Name}' holds NaN or infinite values.");
            }
        }

        if (byName.Count > 0)
        {
            throw new InvalidDataException($"State tensor '{byName.Keys.First()}' does not belong to this optimizer.");
        }
    }

    /// <summary>Checks the structure, then applies; should a component still refuse its part, everything already applied
    /// is rolled back from a snapshot, so the optimizer is either fully loaded or untouched.</summary>
    public static void ImportAllOrNothing(IReadOnlyList<StateTensor> snapshot, IReadOnlyList<StateTensor> incoming, Action<IReadOnlyList<StateTensor>> apply)
    {
        ArgumentNullException.ThrowIfNull(incoming);
        CheckSameStructure(snapshot, incoming);
        try
        {
            apply(incoming);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            apply(snapshot);
            throw e as InvalidDataException ?? new InvalidDataException(e.Message, e);
        }
    }
}
