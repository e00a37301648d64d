namespace ShampooMkl;

/// <summary>How MKL parallelises inside one call; other backends ignore it.</summary>
/// <remarks>In the root namespace with <see cref="BlasBackendKind"/>, for the reason given there.</remarks>
public enum MklThreadingLayer
{
    /// <summary>One thread per call: we parallelise across preconditioner blocks instead.</summary>
    Sequential,

    /// <summary>GNU OpenMP; libgomp is loaded with RTLD_GLOBAL first so MKL can find it.</summary>
    Gnu,

    /// <summary>Intel OpenMP (<c>libiomp5</c>), MKL's own default.</summary>
    Intel,
}
