namespace ShampooMkl.Distributed;

/// <summary>Thrown on every rank alike when the ranks make a collective call that does not match: different
/// collectives, lengths, element types, counts, displacements or roots. No data was exchanged, and the ranks are still
/// in step: the communicator can be used (and finalised) afterwards.</summary>
/// <remarks>Mismatched calls are a program or configuration error (e.g. ranks started with different models); MPI
/// itself would corrupt memory, fail late with MPI_ERR_TRUNCATE or hang.</remarks>
public sealed class CollectiveMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="function"/> with a one-line <paramref name="message"/>.</summary>
    public CollectiveMismatchException(string function, string message)
        : base(message)
    {
        Function = function;
    }

    /// <summary>The collective the ranks disagreed on, e.g. <c>MPI_Allreduce (float)</c>.</summary>
    public string Function { get; }
}
