using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using ShampooMkl.Analysis.Training;
using ShampooMkl.Cli.Diagnostics;
using ShampooMkl.Kronecker;
using ShampooMkl.Linalg;

namespace ShampooMkl.Tests;

/// <summary>The layering of docs/design.md, 'Layers', checked on the compiled assemblies: Native → IO → Memory → Linalg →
/// Preconditioning → Optim → Distributed, with Kronecker (the paper's analysis maths) beside that stack above Linalg,
/// and Analysis and the CLI on top and never reaching into Native.</summary>
/// <remarks>Reads metadata and IL with System.Reflection.Metadata: every type a type names in its base type,
/// interfaces, generic constraints, attributes, field/method/property/event signatures, local variables, catch
/// clauses and method bodies counts, including through generic instantiations and compiler-generated nested types
/// (lambdas, iterators), which are charged to their outermost declaring type.</remarks>
public class ArchitectureTests
{
    /// <summary>The library's layers, lowest first; the root namespace <c>ShampooMkl</c> (shared enums and the load
    /// exception) sits beneath all of them.</summary>
    private static readonly string[] Layers =
    [
        "ShampooMkl.Native", "ShampooMkl.IO", "ShampooMkl.Memory", "ShampooMkl.Linalg", "ShampooMkl.Preconditioning", "ShampooMkl.Optim", "ShampooMkl.Distributed",
    ];

    /// <summary>Layers beside the stack rather than in it, each with the stack layers it may reference (besides
    /// itself); nothing in <see cref="Layers"/> may reference them. Kronecker is the paper's analysis maths: it
    /// builds on Memory and Linalg (BLAS through <see cref="BlasBackend"/>, never Native), and the optimizer never
    /// calls it.</summary>
    private static readonly Dictionary<string, string[]> SideLayers = new(StringComparer.Ordinal)
    {
        ["ShampooMkl.Kronecker"] = ["ShampooMkl.Memory", "ShampooMkl.Linalg"],
    };

    /// <summary>The root namespace, beneath every layer.</summary>
    private const string RootNamespace = "ShampooMkl";

    [Fact]
    public void LibraryTypes_ReferenceOnlyTheirOwnOrLowerLayers()
    {
        var violations = new List<string>();
        var rootTypes = new List<string>();
        var sideTypes = new List<string>();
        foreach (var (type, referenced) in References(typeof(BlasBackend).Assembly))
        {
            if (SideLayerOf(NamespaceOf(type)) is { } side)
            {
                sideTypes.Add(type);
                violations.AddRange(referenced
                    .Where(n => (LayerOf(n) is { } to && !SideLayers[side].Contains(Layers[to])) || (SideLayerOf(n) is { } other && other != side))
                    .Distinct()
                    .Order(StringComparer.Ordinal)
                    .Select(n => $"{type} ({side}) references {n}"));
                continue;
            }

            var from = LayerOf(NamespaceOf(type));
            if (from is null)
            {
                // The root namespace sits beneath every layer: its types may name each other but nothing in a
                // ShampooMkl.* namespace (not even Native, which depends on them).
                if (NamespaceOf(type) == RootNamespace)
                {
                    rootTypes.Add(type);
                    violations.AddRange(referenced
                        .Where(n => n.StartsWith(RootNamespace + ".", StringComparison.Ordinal) && NamespaceOf(n) != RootNamespace)
                        .Distinct()
                        .Order(StringComparer.Ordinal)
                        .Select(n => $"{type} (root namespace) references {n}"));
                }

                continue;
            }

            foreach (var name in referenced.Where(n => (LayerOf(n) is { } to && to > from) || SideLayerOf(n) is not null).Distinct().Order(StringComparer.Ordinal))
            {
                violations.Add($"{type} ({Layers[from.Value]}) references {name}");
            }
        }

        Assert.True(violations.Count == 0, "Types reference a layer they may not use:" + Environment.NewLine + string.Join(Environment.NewLine, violations));

        // Guards the root-namespace check against passing by seeing no root types.
        Assert.Contains(typeof(BlasBackendKind).FullName!, rootTypes);
        Assert.Contains(typeof(MklThreadingLayer).FullName!, rootTypes);
        Assert.Contains(typeof(NativeLoadException).FullName!, rootTypes);

        // Likewise for the side layers' check.
        Assert.Contains(typeof(KroneckerPair).FullName!, sideTypes);
    }

    [Theory]
    [InlineData(typeof(Trainer))]
    [InlineData(typeof(NativeDiagnostics))]
    public void AnalysisAndCli_NeverReachIntoNative(Type anyTypeOfAssembly)
    {
        var violations = References(anyTypeOfAssembly.Assembly)
            .SelectMany(r => r.Referenced.Where(IsNative).Select(n => $"{r.Type} references {n}"))
            .Distinct()
            .ToList();

        Assert.True(violations.Count == 0,
            $"{anyTypeOfAssembly.Assembly.GetName().Name} references ShampooMkl.Native (go through ShampooMkl.Linalg.BlasBackend):" +
            Environment.NewLine + string.Join(Environment.NewLine, violations));
    }

    [Theory]
    [InlineData(typeof(BlasBackend))]
    [InlineData(typeof(Trainer))]
    [InlineData(typeof(NativeDiagnostics))]
    public void OnlyNativeDeclaresPInvokes(Type anyTypeOfAssembly)
    {
        using var pe = new PEReader(File.OpenRead(anyTypeOfAssembly.Assembly.Location));
        var reader = pe.GetMetadataReader();
        var violations = reader.MethodDefinitions
            .Select(reader.GetMethodDefinition)
            .Where(m => (m.Attributes & MethodAttributes.PinvokeImpl) != 0 && !IsNative(NamespaceOf(reader, m.GetDeclaringType())))
            .Select(m => $"{FullName(reader, m.GetDeclaringType())}.{reader.GetString(m.Name)}")
            .ToList();

        Assert.True(violations.Count == 0, "P/Invokes outside ShampooMkl.Native:" + Environment.NewLine + string.Join(Environment.NewLine, violations));
    }

    [Fact]
    public void TheScanner_SeesReferencesThatOnlyMethodBodiesMake()
    {
        // Guards the checks above against passing by seeing nothing: the probe names both types only inside a
        // lambda's body (another assembly's type through a member reference, this one's through a method definition).
        var probe = References(typeof(ArchitectureTests).Assembly).Single(r => r.Type == typeof(BodyOnlyProbe).FullName).Referenced;

        Assert.Contains("ShampooMkl.Native.BlasLibrary", probe);
        Assert.Contains(typeof(BodyOnlyTarget).FullName!, probe);
    }

    private static int? LayerOf(string name)
    {
        for (var i = 0; i < Layers.Length; i++)
        {
            if (name == Layers[i] || name.StartsWith(Layers[i] + ".", StringComparison.Ordinal))
            {
                return i;
            }
        }

        return null;
    }

    private static string? SideLayerOf(string name) =>
        SideLayers.Keys.FirstOrDefault(l => name == l || name.StartsWith(l + ".", StringComparison.Ordinal));

    private static bool IsNative(string name) => LayerOf(name) == 0;

    private static string NamespaceOf(string fullName) => fullName.LastIndexOf('.') is var dot and > 0 ? fullName[..dot] : "";

    /// <summary>Every top-level type of the assembly with the full names of the types it references (nested types,
    /// including compiler-generated ones, folded into their outermost declaring type).</summary>
    private static List<(string Type, HashSet<string> Referenced)> References(Assembly assembly)
    {
        using var pe = new PEReader(File.OpenRead(assembly.Location));
        var reader = pe.GetMetadataReader();
        var byType = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var handle in reader.TypeDefinitions)
        {
            var owner = FullName(reader, Outermost(reader, handle));
            if (!byType.TryGetValue(owner, out var set))
            {
                byType[owner] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            new TypeScanner(reader, pe, set).Scan(handle);
        }

        return byType.Select(kv => (kv.Key, kv.Value)).ToList();
    }

    private static TypeDefinitionHandle Outermost(MetadataReader reader, TypeDefinitionHandle handle)
    {
        while (reader.GetTypeDefinition(handle).GetDeclaringType() is { IsNil: false } parent)
        {
            handle = parent;
        }

        return handle;
    }

    private static string NamespaceOf(MetadataReader reader, TypeDefinitionHandle handle) =>
        reader.GetString(reader.GetTypeDefinition(Outermost(reader, handle)).Namespace);

    private static string FullName(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        var name = reader.GetString(type.Name);
        var parent = type.GetDeclaringType();
        if (!parent.IsNil)
        {
            return FullName(reader, parent) + "+" + name;
        }

        var ns = reader.GetString(type.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    private static string FullName(MetadataReader reader, TypeReferenceHandle handle)
    {
        var type = reader.GetTypeReference(handle);
        var name = reader.GetString(type.Name);
        if (type.ResolutionScope.Kind == HandleKind.TypeReference)
        {
            return FullName(reader, (TypeReferenceHandle)type.ResolutionScope) + "+" + name;
        }

        var ns = reader.GetString(type.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    /// <summary>Collects the outermost full names of every type one type definition references.</summary>
    private sealed class TypeScanner(MetadataReader reader, PEReader pe, HashSet<string> found) : ISignatureTypeProvider<int, object?>
    {
        private static readonly Dictionary<ushort, OperandType> Operands = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => (ushort)o.Value, o => o.OperandType);

        public void Scan(TypeDefinitionHandle handle)
        {
            var type = reader.GetTypeDefinition(handle);
            AddHandle(type.BaseType);
            foreach (var i in type.GetInterfaceImplementations())
            {
                AddHandle(reader.GetInterfaceImplementation(i).Interface);
            }

            ScanGenericParameters(type.GetGenericParameters());
            ScanAttributes(type.GetCustomAttributes());
            foreach (var f in type.GetFields())
            {
                var field = reader.GetFieldDefinition(f);
                field.DecodeSignature(this, null);
                ScanAttributes(field.GetCustomAttributes());
            }

            foreach (var p in type.GetProperties())
            {
                var property = reader.GetPropertyDefinition(p);
                property.DecodeSignature(this, null);
                ScanAttributes(property.GetCustomAttributes());
            }

            foreach (var e in type.GetEvents())
            {
                AddHandle(reader.GetEventDefinition(e).Type);
            }

            foreach (var m in type.GetMethods())
            {
                ScanMethod(reader.GetMethodDefinition(m));
            }
        }

        private void ScanMethod(MethodDefinition method)
        {
            method.DecodeSignature(this, null);
            ScanGenericParameters(method.GetGenericParameters());
            ScanAttributes(method.GetCustomAttributes());
            foreach (var p in method.GetParameters())
            {
                ScanAttributes(reader.GetParameter(p).GetCustomAttributes());
            }

            if (method.RelativeVirtualAddress == 0)
            {
                return;
            }

            var body = pe.GetMethodBody(method.RelativeVirtualAddress);
            if (!body.LocalSignature.IsNil)
            {
                reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, null);
            }

            foreach (var region in body.ExceptionRegions)
            {
                AddHandle(region.CatchType);
            }

            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                ushort code = il.ReadByte();
                if (code == 0xFE)
                {
                    code = (ushort)(0xFE00 | il.ReadByte());
                }

                // An opcode outside the table means the walk lost its alignment; fail loudly rather than miss tokens.
                switch (Operands.TryGetValue(code, out var operand) ? operand : throw new InvalidOperationException($"Unknown IL opcode {code:X} in {FullName(reader, method.GetDeclaringType())}."))
                {
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineSwitch:
                        var targets = il.ReadInt32();
                        il.Offset += 4 * targets;
                        break;
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType or OperandType.InlineSig:
                        AddHandle(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    default:
                        il.Offset += 4;
                        break;
                }
            }
        }

        private void ScanGenericParameters(GenericParameterHandleCollection parameters)
        {
            foreach (var g in parameters)
            {
                foreach (var c in reader.GetGenericParameter(g).GetConstraints())
                {
                    AddHandle(reader.GetGenericParameterConstraint(c).Type);
                }
            }
        }

        private void ScanAttributes(CustomAttributeHandleCollection attributes)
        {
            foreach (var a in attributes)
            {
                AddHandle(reader.GetCustomAttribute(a).Constructor);
            }
        }

        private void AddHandle(EntityHandle handle)
        {
            if (handle.IsNil)
            {
                return;
            }

            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    found.Add(FullName(reader, Outermost(reader, (TypeDefinitionHandle)handle)));
                    break;
                case HandleKind.TypeReference:
                    found.Add(OutermostName(FullName(reader, (TypeReferenceHandle)handle)));
                    break;
                case HandleKind.TypeSpecification:
                    reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null);
                    break;
                case HandleKind.MethodDefinition:
                    var method = reader.GetMethodDefinition((MethodDefinitionHandle)handle);
                    AddHandle(method.GetDeclaringType());
                    method.DecodeSignature(this, null);
                    break;
                case HandleKind.FieldDefinition:
                    var field = reader.GetFieldDefinition((FieldDefinitionHandle)handle);
                    AddHandle(field.GetDeclaringType());
                    field.DecodeSignature(this, null);
                    break;
                case HandleKind.MemberReference:
                    var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    AddHandle(member.Parent);
                    if (member.GetKind() == MemberReferenceKind.Method)
                    {
                        member.DecodeMethodSignature(this, null);
                    }
                    else
                    {
                        member.DecodeFieldSignature(this, null);
                    }

                    break;
                case HandleKind.MethodSpecification:
                    var spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    AddHandle(spec.Method);
                    spec.DecodeSignature(this, null);
                    break;
                case HandleKind.StandaloneSignature:
                    var signature = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                    if (signature.GetKind() == StandaloneSignatureKind.Method)
                    {
                        signature.DecodeMethodSignature(this, null);
                    }

                    break;
            }
        }

        private static string OutermostName(string fullName) => fullName.IndexOf('+') is var plus and > 0 ? fullName[..plus] : fullName;

        public int GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            AddHandle(handle);
            return 0;
        }

        public int GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind)
        {
            AddHandle(handle);
            return 0;
        }

        public int GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind)
        {
            AddHandle(handle);
            return 0;
        }

        public int GetPrimitiveType(PrimitiveTypeCode typeCode) => 0;

        public int GetSZArrayType(int elementType) => 0;

        public int GetArrayType(int elementType, ArrayShape shape) => 0;

        public int GetByReferenceType(int elementType) => 0;

        public int GetPointerType(int elementType) => 0;

        public int GetPinnedType(int elementType) => 0;

        public int GetGenericInstantiation(int genericType, ImmutableArray<int> typeArguments) => 0;

        public int GetGenericTypeParameter(object? context, int index) => 0;

        public int GetGenericMethodParameter(object? context, int index) => 0;

        public int GetFunctionPointerType(MethodSignature<int> signature) => 0;

        public int GetModifiedType(int modifier, int unmodifiedType, bool isRequired) => 0;
    }
}

/// <summary>A fixture for <see cref="ArchitectureTests"/>: references two types only inside a lambda's body.</summary>
internal static class BodyOnlyProbe
{
    public static int Count()
    {
        Func<int> body = () => ShampooMkl.Native.BlasLibrary.RequiredSymbols.Count + BodyOnlyTarget.One();
        return body();
    }
}

/// <summary>A fixture for <see cref="ArchitectureTests"/>: the same-assembly target of <see cref="BodyOnlyProbe"/>.</summary>
internal static class BodyOnlyTarget
{
    public static int One() => 1;
}
