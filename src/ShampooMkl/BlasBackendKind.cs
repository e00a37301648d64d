namespace ShampooMkl;

// Layering: the root namespace holds the few dependency-free types every layer shares (this enum,
// MklThreadingLayer, NativeLoadException). They sit beneath Native, which names them when it loads a library,
// and every layer above sees them without a using and without reaching into Native. A Linalg copy mapped in
// BlasBackend would have given each name two types; moving them into Linalg would have made Native depend upward.
// ArchitectureTests checks that nothing in this namespace references a layer.

/// <summary>The native BLAS/LAPACK providers ShampooMkl can bind to.</summary>
public enum BlasBackendKind
{
    /// <summary>Intel MKL through the single dynamic library <c>libmkl_rt</c>.</summary>
    Mkl,

    /// <summary>OpenBLAS (pthread build), which ships LAPACK with Fortran symbols.</summary>
    OpenBlas,
}
