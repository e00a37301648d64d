using ShampooMkl.Linalg;

namespace ShampooMkl.Preconditioning;

/// <summary>The numbers of a failed block root refresh, from which its message is formatted: the owner rank sends
/// these numbers, not the text, and every rank formats the same text from them.</summary>
/// <param name="Rows">Rows of the block.</param>
/// <param name="Cols">Columns of the block.</param>
/// <param name="Left">Whether the left (L) root failed; else the right (R) one did.</param>
/// <param name="Status">Why the root failed.</param>
/// <param name="Epsilon">The block's ε after the failure raised it.</param>
internal readonly record struct RootRefreshFailure(int Rows, int Cols, bool Left, InverseRootStatus Status, double Epsilon)
{
    /// <summary>The message of <see cref="RootRefreshResult.Detail"/> (formatted in the current culture, as it always was).</summary>
    public string Describe() =>
        $"{Rows}×{Cols} block root failed ({(Left ? "L" : "R")}: {Status}); kept previous roots, ε → {Epsilon:G3}";

    /// <summary>The failure as one integer: side in bit 0, status above it (never negative).</summary>
    public int Code => (Left ? 1 : 0) | ((int)Status << 1);

    /// <summary>The failure of a block of <paramref name="rows"/>×<paramref name="cols"/> from <see cref="Code"/> and ε.</summary>
    public static RootRefreshFailure FromCode(int rows, int cols, int code, double epsilon) =>
        new(rows, cols, (code & 1) != 0, (InverseRootStatus)(code >> 1), epsilon);

    /// <summary>The result of a refresh that failed this way.</summary>
    public RootRefreshResult ToResult() => new(false, 1, 1, Describe()) { Failure = this };
}
