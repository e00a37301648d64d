namespace ShampooMkl.Kronecker;

/// <summary>An <see cref="IKroneckerSample"/> that owns scratch (e.g. chunk buffers) reused by every pass of one run.</summary>
internal interface IKroneckerOperator : IKroneckerSample, IDisposable
{
}
