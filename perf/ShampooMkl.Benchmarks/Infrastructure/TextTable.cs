using System.Text;

namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>A plain-text table (GitHub-flavoured Markdown, so the same text reads well in a log and in a .md file).</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public void Add(params string[] cells) => rows.Add(cells);

    public override string ToString()
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => i < r.Length ? r[i].Length : 0))).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells)
        {
            text.Append('|');
            for (var i = 0; i < widths.Length; i++)
            {
                var cell = i < cells.Count ? cells[i] : "";
                // Numbers right-aligned, words left-aligned.
                var numeric = cell.Length > 0 && (char.IsDigit(cell[0]) || cell[0] is '-' or '+' or '×') && cell != "-";
                text.Append(' ').Append(numeric ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i])).Append(" |");
            }

            text.AppendLine();
        }

        Line(headers);
        text.Append('|');
        foreach (var w in widths)
        {
            text.Append(new string('-', w + 2)).Append('|');
        }

        text.AppendLine();
        foreach (var row in rows)
        {
            Line(row);
        }

        return text.ToString();
    }
}
