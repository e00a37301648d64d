using System.Buffers;

namespace ShampooMkl.Tests.Optim;

/// <summary>fp32 memory over an array that, once <see cref="Arm"/>ed, holds the next thread asking for its span until
/// <see cref="Release"/>: bound as a gradient, it holds an optimizer's step open at its first read of the gradient, so a
/// test can act while a step is certainly running, with no sleeps.</summary>
internal sealed class GatedMemory : MemoryManager<float>
{
    private readonly float[] data;
    private readonly ManualResetEventSlim entered = new();
    private readonly ManualResetEventSlim released = new();
    private int armed;

    public GatedMemory(float[] data) => this.data = data;

    /// <summary>The values behind the memory (write gradients here).</summary>
    public float[] Data => data;

    /// <summary>The next span request blocks (once) until <see cref="Release"/>.</summary>
    public void Arm()
    {
        released.Reset();
        entered.Reset();
        Volatile.Write(ref armed, 1);
    }

    /// <summary>Waits until a thread is held in the gate; false after <paramref name="timeout"/> (a hang guard, not a timing check).</summary>
    public bool WaitUntilHeld(TimeSpan timeout) => entered.Wait(timeout);

    /// <summary>Lets the held thread go on.</summary>
    public void Release() => released.Set();

    public override Span<float> GetSpan()
    {
        if (Interlocked.Exchange(ref armed, 0) == 1)
        {
            entered.Set();
            released.Wait(TimeSpan.FromMinutes(2));
        }

        return data;
    }

    public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        entered.Dispose();
        released.Dispose();
    }
}
