namespace ShampooMkl.Analysis.Data;

/// <summary>Raised when MNIST is neither cached nor downloadable, carrying the commands that fix it.</summary>
public sealed class MnistUnavailableException : IOException
{
    public MnistUnavailableException(string message)
        : base(message)
    {
    }

    public MnistUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
