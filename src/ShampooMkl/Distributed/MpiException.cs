namespace ShampooMkl.Distributed;

/// <summary>Thrown when an MPI call returns an error code; names the call and the code.</summary>
public sealed class MpiException : Exception
{
    public MpiException(string function, int errorCode, string description)
        : base($"{function} failed with MPI error {errorCode}: {description}")
    {
        Function = function;
        ErrorCode = errorCode;
    }

    /// <summary>The MPI function that failed, e.g. <c>MPI_Allreduce</c>.</summary>
    public string Function { get; }

    /// <summary>The code it returned (Open MPI's numbering; MPI_ERR_TRUNCATE is 15).</summary>
    public int ErrorCode { get; }
}
