using ShampooMkl.Optim;
using ShampooMkl.Preconditioning;

namespace ShampooMkl.Tests.Preconditioning;

/// <summary>Use after Dispose names the user's type (the optimizer or preconditioner they hold), never an internal
/// native buffer.</summary>
public class DisposedUseTests
{
    public static TheoryData<string> Preconditioners => ["ShampooPreconditioner`1", "BlockedShampooPreconditioner`1", "DiagonalPreconditioner"];

    private static IPreconditioner Create(string name) => name switch
    {
        "ShampooPreconditioner`1" => new ShampooPreconditioner<double>(3, 2),
        "BlockedShampooPreconditioner`1" => new BlockedShampooPreconditioner<double>(3, 2, 2),
        _ => new DiagonalPreconditioner(6),
    };

    [Theory]
    [MemberData(nameof(Preconditioners))]
    public void Preconditioner_AfterDispose_NamesItsOwnType(string name)
    {
        var preconditioner = Create(name);
        var gradient = new double[] { 1, 2, 3, 4, 5, 6 };
        preconditioner.Update(gradient);
        preconditioner.RefreshRoots();
        preconditioner.Dispose();

        var direction = new double[6];
        foreach (var use in new Action[]
        {
            () => preconditioner.Update(gradient),
            () => preconditioner.Precondition(gradient, direction),
            () => preconditioner.ExportState(),
        })
        {
            // ObjectDisposedException.ThrowIf names the full type: ShampooMkl.Preconditioning.{name}[...].
            Assert.StartsWith($"ShampooMkl.Preconditioning.{name}", Assert.Throws<ObjectDisposedException>(use).ObjectName, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Shampoo_AfterDispose_NamesShampoo()
    {
        var p = new Parameter("w", [1f, 2f, 3f, 4f, 5f, 6f], 3, 2);
        var optimizer = new Shampoo([p], ShampooOptions.RecommendedShampooSquared);
        p.Gradient.AsSpan().Fill(0.5f);
        optimizer.Step();
        optimizer.Dispose();

        Assert.Equal(typeof(Shampoo).FullName, Assert.Throws<ObjectDisposedException>(() => optimizer.Step()).ObjectName);
        Assert.Equal(typeof(Shampoo).FullName, Assert.Throws<ObjectDisposedException>(() => Checkpoint.Save(optimizer, new MemoryStream())).ObjectName);
    }
}
