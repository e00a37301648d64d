using System.Text;

namespace ShampooMkl.Cli.Errors;

/// <summary>A writer that starts every line with <c>[rank N] </c>, so the lines of an mpirun job say which rank wrote them.</summary>
internal sealed class RankPrefixedWriter(TextWriter inner, int rank) : TextWriter
{
    private bool atLineStart = true;

    /// <inheritdoc />
    public override Encoding Encoding => inner.Encoding;

    /// <inheritdoc />
    public override void Write(char value)
    {
        if (atLineStart)
        {
            inner.Write($"[rank {rank}] ");
        }

        inner.Write(value);
        atLineStart = value == '\n';
    }

    /// <inheritdoc />
    public override void Flush() => inner.Flush();
}
