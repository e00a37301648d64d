using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.CompilerServices;
using ShampooMkl.Optim;

namespace ShampooMkl.TorchSharp.Tests;

/// <summary>The adapter's place in docs/design.md, 'Layers': on top of the core, through its public API only, with its
/// few native calls declared in one class (<c>ShampooMkl.TorchSharp.Native.LibTorchSharp</c>) and nowhere else.</summary>
public class AdapterArchitectureTests
{
    private const string DeclarationsClass = "ShampooMkl.TorchSharp.Native.LibTorchSharp";

    private static readonly Assembly Adapter = typeof(TorchOptimizer).Assembly;
    private static readonly Assembly Core = typeof(IOptimizer).Assembly;

    [Fact]
    public void PInvoke_IsDeclaredOnlyInTheDeclarationsClass_WhichDeclaresNothingElse()
    {
        var all = Adapter.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Select(m => (Type: t, Method: m)))
            .ToList();
        var pinvoke = all.Where(x => x.Method.Attributes.HasFlag(MethodAttributes.PinvokeImpl)).ToList();
        Assert.NotEmpty(pinvoke);
        Assert.All(pinvoke, x => Assert.Equal(DeclarationsClass, x.Type.FullName));
        Assert.All(all.Where(x => x.Type.FullName == DeclarationsClass), x => Assert.True(
            x.Method.Attributes.HasFlag(MethodAttributes.PinvokeImpl), $"{DeclarationsClass}.{x.Method.Name} is not a P/Invoke declaration."));
        Assert.All(Adapter.GetTypes().Where(t => t.Namespace == "ShampooMkl.TorchSharp.Native"), t => Assert.Equal(DeclarationsClass, t.FullName));
    }

    [Fact]
    public void TheCore_GrantsTheAdapterNoInternals()
    {
        var granted = Core.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToList();
        Assert.DoesNotContain(granted, n => n.StartsWith(Adapter.GetName().Name!, StringComparison.Ordinal));
    }

    [Fact]
    public void TheAdapter_NamesOnlyPublicCoreTypes_AndNothingOfTheCoresNativeLayer()
    {
        using var stream = File.OpenRead(Adapter.Location);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var coreName = Core.GetName().Name;
        var named = new List<string>();
        foreach (var handle in reader.TypeReferences)
        {
            var reference = reader.GetTypeReference(handle);
            if (reference.ResolutionScope.Kind != HandleKind.AssemblyReference)
            {
                continue;
            }

            var assembly = reader.GetAssemblyReference((AssemblyReferenceHandle)reference.ResolutionScope);
            if (reader.GetString(assembly.Name) != coreName)
            {
                continue;
            }

            var fullName = $"{reader.GetString(reference.Namespace)}.{reader.GetString(reference.Name)}";
            named.Add(fullName);
            Assert.False(fullName.StartsWith("ShampooMkl.Native.", StringComparison.Ordinal), $"The adapter names {fullName}.");
            var type = Core.GetType(fullName);
            Assert.True(type is { IsPublic: true }, $"The adapter names {fullName}, which is not a public core type.");
        }

        Assert.Contains("ShampooMkl.Optim.Shampoo", named);
    }
}
