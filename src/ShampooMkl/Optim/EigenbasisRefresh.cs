namespace ShampooMkl.Optim;

/// <summary>How the eigenvalue-corrected (SOAP) preconditioner refreshes its eigenbases after the first one, which is
/// always a full eigendecomposition.</summary>
public enum EigenbasisRefresh
{
    /// <summary>SOAP's recipe (the default): one power step from the current basis, Q ← qr(A·Q), after sorting the
    /// estimated eigenvalues diag(Qᵀ·A·Q) descending and permuting the second moment the same way; O(k³) like a full
    /// decomposition but several times cheaper.</summary>
    PowerStep,

    /// <summary>A full eigendecomposition (<c>syevd</c>) at every refresh, eigenvalues descending; the second moment is
    /// kept as it is.</summary>
    Eigendecomposition,
}
