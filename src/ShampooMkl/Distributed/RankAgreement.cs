using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ShampooMkl.Optim;

namespace ShampooMkl.Distributed;

/// <summary>The start-up handshake of a distributed run: every rank checks, once and before its first other collective,
/// that all ranks were given the same settings (model shapes, optimizer options, epoch and batch plan, data split, …).</summary>
/// <remarks>
/// <para>Protocol, every message of a size all ranks know beforehand: (1) each rank gathers every rank's fingerprint,
/// a 64-bit hash of all its (name, value) settings, and its number of settings; when they are all equal the check is
/// over (one small all-gather). Otherwise (2) every rank gathers every rank's per-setting hashes, padded to the largest
/// setting count, so all ranks find the same differing settings; (3) the ranks gather the lengths of their texts of
/// those settings, then (4) the texts themselves, and every rank throws the same
/// <see cref="RankMismatchException"/> naming each differing setting and each rank's value.</para>
/// <para>The hashes are the first 8 bytes of SHA-256 of the UTF-8 text, so a real difference is missed only by a
/// 2⁻⁶⁴ collision. Values are compared as text: give them in an invariant, round-trip format.</para>
/// </remarks>
public static class RankAgreement
{
    /// <summary>Longest value quoted in the message; longer ones are cut (the hash still compares all of them).</summary>
    private const int QuotedLength = 96;

    private const char NameEnd = '\u001f';
    private const char EntryEnd = '\u001e';

    /// <summary>Collective: returns when every rank passed the same <paramref name="settings"/> (same names, values and
    /// order); otherwise throws on every rank.</summary>
    /// <param name="communicator">The ranks; with one rank there is nothing to compare and nothing is sent.</param>
    /// <param name="settings">Name and value of every setting the ranks must share, e.g. ("--epochs", "3").</param>
    /// <exception cref="RankMismatchException">Some setting differs between ranks (on every rank, with the same message).</exception>
    /// <exception cref="ArgumentException">A name is empty or a name or value holds the control characters U+001E/U+001F.</exception>
    public static void Verify(ICommunicator communicator, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(settings);
        foreach (var (name, value) in settings)
        {
            if (string.IsNullOrEmpty(name) || name.Contains(NameEnd) || name.Contains(EntryEnd) || value is null || value.Contains(NameEnd) || value.Contains(EntryEnd))
            {
                throw new ArgumentException($"Setting '{name}' has an empty name, a null value or a U+001E/U+001F character.", nameof(settings));
            }
        }

        var size = communicator.Size;
        if (size == 1)
        {
            return;
        }

        var hashes = settings.Select(s => Hash(s.Key + NameEnd + s.Value)).ToArray();
        var whole = Hash(string.Join(EntryEnd, settings.Select(s => s.Key + NameEnd + s.Value)));
        var fingerprints = GatherFixed(communicator, [whole, settings.Count]);
        var agreed = true;
        for (var r = 1; r < size; r++)
        {
            agreed &= fingerprints[2 * r] == fingerprints[0] && fingerprints[(2 * r) + 1] == fingerprints[1];
        }

        if (agreed)
        {
            return;
        }

        var slots = 0;
        for (var r = 0; r < size; r++)
        {
            slots = Math.Max(slots, (int)fingerprints[(2 * r) + 1]);
        }

        var padded = new long[slots];
        hashes.CopyTo(padded, 0);
        var all = GatherFixed(communicator, padded);
        var differing = Enumerable.Range(0, slots)
            .Where(i => Enumerable.Range(1, size - 1).Any(r => all[(r * slots) + i] != all[i]))
            .ToList();

        var mine = Encoding.UTF8.GetBytes(string.Concat(differing.Select(i => i < settings.Count
            ? settings[i].Key + NameEnd + settings[i].Value + EntryEnd
            : $"#{i + 1}{NameEnd}(not given){EntryEnd}")));
        var lengths = GatherFixed(communicator, [mine.Length]);
        var counts = lengths.Select(l => checked((int)l)).ToArray();
        var displacements = new int[size];
        for (var r = 1; r < size; r++)
        {
            displacements[r] = checked(displacements[r - 1] + counts[r - 1]);
        }

        var texts = new byte[displacements[^1] + counts[^1]];
        communicator.AllGatherV<byte>(mine, texts, counts, displacements);
        var perRank = Enumerable.Range(0, size)
            .Select(r => Encoding.UTF8.GetString(texts, displacements[r], counts[r]).Split(EntryEnd, StringSplitOptions.RemoveEmptyEntries)
                .Select(e => e.Split(NameEnd, 2)).Select(p => (Name: p[0], Value: p.Length > 1 ? p[1] : string.Empty)).ToArray())
            .ToArray();

        var described = new List<string>();
        for (var k = 0; k < differing.Count; k++)
        {
            var name = perRank.Select(entries => entries[k].Name).First(n => !n.StartsWith('#'));
            var byValue = Enumerable.Range(0, size).GroupBy(r => perRank[r][k].Value).OrderBy(g => g.Min()).ToList();
            var from = FirstDifference(byValue.Select(g => g.Key).ToList());
            described.Add($"{name}: " + string.Join(", ", byValue.Select(g => $"{Ranks(g.ToList())} {(g.Count() == 1 ? "has" : "have")} {Quote(g.Key, from)}")));
        }

        throw new RankMismatchException(described.Select((_, k) => perRank[0][k].Name).ToList(),
            $"The {size} ranks were not started with the same settings ({string.Join("; ", described)}); start every rank with the same arguments.");
    }

    /// <summary>Gathers the same number of longs from every rank (a size every rank knows), rank by rank.</summary>
    private static long[] GatherFixed(ICommunicator communicator, long[] mine)
    {
        var size = communicator.Size;
        var counts = Enumerable.Repeat(mine.Length, size).ToArray();
        var displacements = Enumerable.Range(0, size).Select(r => r * mine.Length).ToArray();
        var all = new long[size * mine.Length];
        communicator.AllGatherV<long>(mine, all, counts, displacements);
        return all;
    }

    private static long Hash(string text) => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0);

    private static string Ranks(List<int> ranks) =>
        (ranks.Count == 1 ? "rank " : "ranks ") + string.Join(", ", ranks.Select(r => r.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Where long values start to differ, less some context, so the quote shows the difference.</summary>
    private static int FirstDifference(List<string> values)
    {
        var common = values.Min(v => v.Length);
        foreach (var v in values)
        {
            common = Math.Min(common, values[0].AsSpan().CommonPrefixLength(v));
        }

        return Math.Max(0, common - (QuotedLength / 4));
    }

    private static string Quote(string value, int from)
    {
        if (value.Length <= QuotedLength)
        {
            return value;
        }

        from = Math.Min(from, value.Length);
        var length = Math.Min(QuotedLength, value.Length - from);
        return (from > 0 ? "…" : string.Empty) + value.Substring(from, length) + (from + length < value.Length ? "…" : string.Empty);
    }
}
