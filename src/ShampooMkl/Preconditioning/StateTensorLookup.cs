namespace ShampooMkl.Preconditioning;

/// <summary>Look-ups into an exported state with clear errors for what is missing or malformed.</summary>
internal static class StateTensorLookup
{
    /// <summary>Finds a tensor by name and checks its element count.</summary>
    /// <exception cref="InvalidDataException">Missing, wrong size, or non-finite.</exception>
    public static StateTensor Require(IReadOnlyList<StateTensor> state, string name, int length, bool allowNonFinite = false)
    {
        StateTensor? found = null;
        foreach (var t in state)
        {
            if (t.Name == name)
            {
                found = t;
                break;
            }
        }

        if (found is null)
        {
            throw new InvalidDataException($"State tensor '{name}' is missing.");
        }

        if (found.Data.Length != length)
        {
            throw new InvalidDataException($"State tensor '{name}' has {found.Data.Length} values, expected {length}.");
        }

        if (!allowNonFinite && !Linalg.FiniteCheck.All<double>(found.Data))
        {
            throw new InvalidDataException($"State tensor '{name}' holds NaN or infinite values.");
        }

        return found;
    }

    /// <summary>Reads a scalar.</summary>
    public static double Scalar(IReadOnlyList<StateTensor> state, string name) => Require(state, name, 1).Data[0];
}
