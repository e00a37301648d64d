namespace ShampooMkl.Fuzz;

/// <summary>One reader under fuzzing: bytes in; an <see cref="InvalidDataException"/> is the reader's documented refusal,
/// any other exception (or a hang, or running out of memory) is a finding.</summary>
internal abstract class FuzzTarget : IDisposable
{
    /// <summary>The name given on the command line.</summary>
    public abstract string Name { get; }

    /// <summary>Seed inputs for the corpus folder: (file name, bytes).</summary>
    public abstract IEnumerable<(string Name, byte[] Bytes)> Seeds();

    /// <summary>Feeds <paramref name="input"/> to the reader; returns normally for an accepted or refused input.</summary>
    public void Run(ReadOnlySpan<byte> input)
    {
        try
        {
            Read(input);
        }
        catch (InvalidDataException)
        {
            // The documented refusal of a damaged file.
        }
    }

    /// <summary>Frees what the target holds (temporary files, an optimizer).</summary>
    public virtual void Dispose()
    {
    }

    /// <summary>The reader call itself.</summary>
    protected abstract void Read(ReadOnlySpan<byte> input);
}
