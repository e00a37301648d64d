namespace ShampooMkl.Optim;

/// <summary>Refuses concurrent use of one optimizer: <c>Step</c>, <c>ExportState</c>, <c>ImportState</c>,
/// <c>GatherState</c>, <c>Dispose</c> and <see cref="Checkpoint"/>'s save and load each hold it for their whole run, and
/// a second call from another thread meanwhile throws <see cref="InvalidOperationException"/> at once instead of
/// reading a torn state or overwriting buffers BLAS is using.</summary>
/// <remarks>An optimizer is not thread-safe; this turns misuse into a clear error, it does not make waiting calls
/// queue. Calls nest on the thread that holds it (a checkpoint save exports the state), except that a
/// <c>Step</c> never nests and nothing nests inside a <c>Step</c> (a communicator or hook calling back into the
/// optimizer mid-step is refused too). Taking and releasing it allocates nothing.</remarks>
internal sealed class ExclusiveUse
{
    private readonly string optimizer;
    private int owner;
    private int depth;
    private bool stepping;
    private string? operation;

    /// <summary>A guard for an optimizer named <paramref name="optimizer"/> in messages (e.g. "Shampoo").</summary>
    public ExclusiveUse(string optimizer) => this.optimizer = optimizer;

    /// <summary>Whether some call holds it now (on any thread).</summary>
    public bool IsHeld => Volatile.Read(ref owner) != 0;

    /// <summary>Takes it for the operation <paramref name="name"/> (e.g. "Step"); <paramref name="isStep"/> marks a
    /// step, which never nests.</summary>
    /// <exception cref="InvalidOperationException">Another call holds it (on another thread, or a step on this one).</exception>
    public Scope Enter(string name, bool isStep = false)
    {
        var me = Environment.CurrentManagedThreadId;
        var holder = Interlocked.CompareExchange(ref owner, me, 0);
        if (holder == 0)
        {
            depth = 1;
            stepping = isStep;
            Volatile.Write(ref operation, name);
            return new Scope(this);
        }

        if (holder == me && !stepping && !isStep)
        {
            depth++;
            return new Scope(this);
        }

        var running = Volatile.Read(ref operation) ?? "another call";
        var where = holder == me ? "on this thread (a callback from inside it)" : "on another thread";
        throw new InvalidOperationException(
            $"{Describe(name)} was refused: {Describe(running)} is running {where}. An optimizer is not thread-safe: call Step, checkpoint " +
            "export/import/save/load and Dispose one at a time; nothing was changed.");
    }

    /// <summary>Takes <paramref name="optimizer"/>'s guard when it has one (this library's optimizers); a no-op otherwise.</summary>
    public static Scope Enter(IOptimizer optimizer, string name) =>
        optimizer is IExclusiveOptimizer guarded ? guarded.Exclusive.Enter(name) : default;

    /// <summary>"Shampoo.Step" for the optimizer's own calls, "Checkpoint.Save of Shampoo" for others.</summary>
    private string Describe(string name) => name.Contains('.', StringComparison.Ordinal) ? $"{name} of {optimizer}" : $"{optimizer}.{name}";

    private void Exit()
    {
        if (--depth == 0)
        {
            stepping = false;
            Volatile.Write(ref operation, null);
            Volatile.Write(ref owner, 0);
        }
    }

    /// <summary>One holding of the guard; disposing it releases that holding.</summary>
    public readonly ref struct Scope
    {
        private readonly ExclusiveUse? use;

        internal Scope(ExclusiveUse use) => this.use = use;

        public void Dispose() => use?.Exit();
    }
}
