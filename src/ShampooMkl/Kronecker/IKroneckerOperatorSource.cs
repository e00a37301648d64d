namespace ShampooMkl.Kronecker;

/// <summary>A sample whose products are cheaper through an operator built once per run than through its own
/// <see cref="IKroneckerSample"/> members, which build their scratch per call.</summary>
internal interface IKroneckerOperatorSource
{
    /// <summary>A new operator over this sample, giving bit-identical products; the caller disposes it.</summary>
    IKroneckerOperator CreateOperator();
}
