namespace ShampooMkl.Native;

/// <summary>The native BLAS/LAPACK providers ShampooMkl can bind to.</summary>
public enum BlasBackendKind
{
    /// <summary>Intel MKL through the single dynamic library <c>libmkl_rt</c>.</summary>
    Mkl,

    /// <summary>OpenBLAS (pthread build), which ships LAPACK with Fortran symbols.</summary>
    OpenBlas,
}

/// <summary>How MKL parallelises inside one call; other backends ignore it.</summary>
public enum MklThreadingLayer
{
    /// <summary>One thread per call: we parallelise across preconditioner blocks instead.</summary>
    Sequential,

    /// <summary>GNU OpenMP; libgomp is loaded with RTLD_GLOBAL first so MKL can find it.</summary>
    Gnu,

    /// <summary>Intel OpenMP (<c>libiomp5</c>), MKL's own default.</summary>
    Intel,
}
