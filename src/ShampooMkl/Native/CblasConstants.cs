namespace ShampooMkl.Native;

/// <summary>The CBLAS enumeration values shared by MKL and OpenBLAS (netlib cblas.h).</summary>
internal static class CblasConstants
{
    public const int RowMajor = 101;
    public const int NoTrans = 111;
    public const int Trans = 112;
    public const int Upper = 121;
    public const int Lower = 122;
}
