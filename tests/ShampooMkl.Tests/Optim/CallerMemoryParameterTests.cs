using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ShampooMkl.Optim;
using ShampooMkl.Tests.Reference;

namespace ShampooMkl.Tests.Optim;

/// <summary>Parameters whose values and gradients live in caller memory (arrays, <see cref="Memory{T}"/>, native memory;
/// fp32 and fp64): the optimizers read and write that memory in place, with the same bits as over arrays, without
/// allocating, and refuse unusable memory before changing anything.</summary>
[Collection(nameof(BlasThreadSettings))]
public class CallerMemoryParameterTests
{
    private const int MeasuredSteps = 20;

    private static readonly ShampooOptions Options = ShampooOptions.Shampoo with
    {
        MaxPreconditionerDim = 4,
        Grafting = GraftingType.Adam,
        Beta1 = 0.9,
        Nesterov = true,
        WeightDecay = 0.01,
        StartPreconditioningStep = 3,
        PreconditionFrequency = 5,
    };

    public static TheoryData<FactorPrecision> Precisions => new() { FactorPrecision.Single, FactorPrecision.Double };

    [Theory]
    [MemberData(nameof(Precisions))]
    public void SteadyShampooStep_OverNativeMemory_AllocatesNothing(FactorPrecision precision)
    {
        using var model = NativeModel<float>.Create(OptimTestData.SmallShapes);
        using var optimizer = new Shampoo(model.Parameters, Options with { FactorPrecision = precision, PreconditionFrequency = 1000 });
        var gradients = Enumerable.Range(1, 2).Select(s => model.Parameters.Select((p, k) => OptimTestData.Gradient(p.Length, k, s)).ToArray()).ToArray();
        for (var i = 0; i < 5; i++)
        {
            model.SetGradients(gradients[i % 2]);
            Assert.True(optimizer.Step().Applied);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < MeasuredSteps; i++)
        {
            model.SetGradients(gradients[i % 2]);
            optimizer.Step();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{MeasuredSteps} steps over native parameters allocated {allocated} managed bytes.");
        Assert.Equal(5 + MeasuredSteps, optimizer.StepCount);
    }

    [Fact]
    public unsafe void NativeParameter_IsUpdatedInPlace_ThroughTheCallersPointer()
    {
        using var model = NativeModel<float>.Create([[6, 5]]);
        var parameter = model.Parameters[0];
        Assert.Equal(ParameterPrecision.Single, parameter.ElementType);
        Assert.Equal(model.Values[0], (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(parameter.GetValues<float>())));
        Assert.Equal(model.Gradients[0], (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(parameter.GetGradient<float>())));
        var before = new ReadOnlySpan<float>((void*)model.Values[0], parameter.Length).ToArray();
        using var optimizer = new Shampoo(model.Parameters, Options);
        model.SetGradients([OptimTestData.Gradient(parameter.Length, 0, 1)]);
        Assert.True(optimizer.Step().Applied);
        var after = new ReadOnlySpan<float>((void*)model.Values[0], parameter.Length);
        Assert.False(after.SequenceEqual(before), "The step did not change the caller's buffer.");
        Assert.True(after.SequenceEqual(parameter.GetValues<float>()));
        Assert.Throws<InvalidOperationException>(() => parameter.Value);
        Assert.Throws<InvalidOperationException>(() => parameter.Gradient);
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void ArrayMemoryAndNativeParameters_GiveBitIdenticalValues(FactorPrecision precision)
    {
        const int steps = 24;
        var options = Options with { FactorPrecision = precision };
        var arrays = OptimTestData.Parameters(OptimTestData.SmallShapes);
        // Memory<float> slices at an odd offset of a larger array: another alignment than the arrays'.
        var backing = OptimTestData.Parameters(OptimTestData.SmallShapes).Select(p => p.Value).ToArray();
        var memoryValues = backing.Select(v => new float[v.Length + 3]).ToArray();
        var memoryGradients = backing.Select(v => new float[v.Length + 1]).ToArray();
        var memories = backing.Select((v, k) =>
        {
            v.CopyTo(memoryValues[k], 3);
            var p = Parameter.FromMemory($"p{k}", memoryValues[k].AsMemory(3, v.Length), OptimTestData.SmallShapes[k]);
            p.BindGradient(memoryGradients[k].AsMemory(1, v.Length));
            return p;
        }).ToArray();
        using var native = NativeModel<float>.Create(OptimTestData.SmallShapes);
        using var onArrays = new Shampoo(arrays, options);
        using var onMemory = new Shampoo(memories, options);
        using var onNative = new Shampoo(native.Parameters, options);
        for (var step = 1; step <= steps; step++)
        {
            var g = OptimTestData.SetGradients(arrays, step);
            for (var k = 0; k < g.Length; k++)
            {
                g[k].CopyTo(memoryGradients[k], 1);
            }

            native.SetGradients(g);
            var expected = onArrays.Step();
            Assert.Equal(expected, onMemory.Step());
            Assert.Equal(expected, onNative.Step());
            for (var k = 0; k < arrays.Length; k++)
            {
                AssertBits(arrays[k].Value, memories[k].GetValues<float>(), $"Memory, step {step}, parameter {k}");
                AssertBits(arrays[k].Value, native.Parameters[k].GetValues<float>(), $"native, step {step}, parameter {k}");
            }
        }

        Assert.True(onArrays.Statistics.RootRefreshes >= 4);
        Assert.Equal(onArrays.Statistics.RootRefreshes, onNative.Statistics.RootRefreshes);
    }

    [Fact]
    public void RebindingTheGradientEachStep_MatchesCopyingIntoOneBuffer()
    {
        var copied = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var rebound = OptimTestData.Parameters(OptimTestData.SmallShapes);
        using var a = new Shampoo(copied, Options);
        using var b = new Shampoo(rebound, Options);
        using var native = new NativeBuffer<float>(rebound.Sum(p => p.Length));
        for (var step = 1; step <= 12; step++)
        {
            var g = OptimTestData.SetGradients(copied, step);
            var at = 0;
            for (var k = 0; k < rebound.Length; k++)
            {
                // A framework's new buffer each step: alternately a fresh array, a Memory slice and native memory.
                switch (step % 3)
                {
                    case 0:
                        rebound[k].BindGradient((float[])g[k].Clone());
                        break;
                    case 1:
                        var wide = new float[g[k].Length + 2];
                        g[k].CopyTo(wide, 2);
                        rebound[k].BindGradient(wide.AsMemory(2));
                        break;
                    default:
                        g[k].CopyTo(native.Span.Slice(at, g[k].Length));
                        rebound[k].BindGradient(native.Pointer + (at * sizeof(float)), g[k].Length);
                        break;
                }

                at += g[k].Length;
            }

            Assert.Equal(a.Step(), b.Step());
            for (var k = 0; k < copied.Length; k++)
            {
                AssertBits(copied[k].Value, rebound[k].Value, $"step {step}, parameter {k}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void Fp64Parameters_TrainLikeTheFp32Run(FactorPrecision precision)
    {
        var single = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var wide = single.Select((p, k) => new Parameter(p.Name, p.Value.Select(x => (double)x).ToArray(), OptimTestData.SmallShapes[k])).ToArray();
        using var nativeWide = NativeModel<double>.Create(OptimTestData.SmallShapes);
        using var a = new Shampoo(single, Options with { FactorPrecision = precision });
        using var b = new Shampoo(wide, Options with { FactorPrecision = precision });
        using var c = new Shampoo(nativeWide.Parameters, Options with { FactorPrecision = precision });
        for (var step = 1; step <= 20; step++)
        {
            var g = OptimTestData.SetGradients(single, step);
            for (var k = 0; k < g.Length; k++)
            {
                g[k].Select(x => (double)x).ToArray().CopyTo(wide[k].GetGradient<double>());
            }

            nativeWide.SetGradients(g);
            Assert.True(a.Step().Applied);
            Assert.True(b.Step().Applied);
            Assert.True(c.Step().Applied);
        }

        for (var k = 0; k < single.Length; k++)
        {
            var w = wide[k].GetValues<double>();
            Assert.Equal(ParameterPrecision.Double, wide[k].ElementType);
            Assert.True(w.SequenceEqual(nativeWide.Parameters[k].GetValues<double>()), $"fp64 array and native parameters differ ({k}).");
            var moved = false;
            for (var i = 0; i < w.Length; i++)
            {
                Assert.True(Math.Abs(w[i] - single[k].Value[i]) <= 1e-4 * (1 + Math.Abs(w[i])), $"parameter {k} element {i}: fp64 {w[i]:R}, fp32 {single[k].Value[i]:R}");
                moved |= w[i] != (float)w[i];
            }

            Assert.True(moved, $"Parameter {k} holds only fp32-representable values: the update was rounded to fp32.");
        }
    }

    [Fact]
    public void Fp64MemoryParameters_MatchFp64Arrays_BitForBit()
    {
        var seeds = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var arrays = seeds.Select((p, k) => new Parameter(p.Name, p.Value.Select(x => (double)x).ToArray(), OptimTestData.SmallShapes[k])).ToArray();
        var gradients = seeds.Select(p => new double[p.Length + 5]).ToArray();
        var memories = seeds.Select((p, k) =>
        {
            var backing = new double[p.Length + 1];
            p.Value.Select(x => (double)x).ToArray().CopyTo(backing, 1);
            var m = Parameter.FromMemory(p.Name, backing.AsMemory(1), OptimTestData.SmallShapes[k]);
            m.BindGradient(gradients[k].AsMemory(5));
            return m;
        }).ToArray();
        using var a = new Shampoo(arrays, Options);
        using var b = new Shampoo(memories, Options);
        for (var step = 1; step <= 12; step++)
        {
            for (var k = 0; k < seeds.Length; k++)
            {
                var g = OptimTestData.Gradient(seeds[k].Length, k, step).Select(x => (double)x).ToArray();
                g.CopyTo(arrays[k].GetGradient<double>());
                g.CopyTo(gradients[k], 5);
            }

            Assert.Equal(a.Step(), b.Step());
            for (var k = 0; k < seeds.Length; k++)
            {
                Assert.True(arrays[k].GetValues<double>().SequenceEqual(memories[k].GetValues<double>()), $"step {step}, parameter {k}");
            }
        }

        Assert.True(a.Statistics.RootRefreshes >= 2);
    }

    [Fact]
    public void Fp64Parameters_WithAdamWAndSgd_TrackTheFp32Run()
    {
        var single = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var wide = single.Select((p, k) => new Parameter(p.Name, p.Value.Select(x => (double)x).ToArray(), OptimTestData.SmallShapes[k])).ToArray();
        var single2 = OptimTestData.Parameters(OptimTestData.SmallShapes);
        var wide2 = single2.Select((p, k) => new Parameter(p.Name, p.Value.Select(x => (double)x).ToArray(), OptimTestData.SmallShapes[k])).ToArray();
        IOptimizer[] optimizers =
        [
            new AdamW(single), new AdamW(wide),
            new Sgd(single2, new SgdOptions { Momentum = 0.9, Nesterov = true, WeightDecay = 0.1 }),
            new Sgd(wide2, new SgdOptions { Momentum = 0.9, Nesterov = true, WeightDecay = 0.1 }),
        ];
        for (var step = 1; step <= 10; step++)
        {
            var g = OptimTestData.SetGradients(single, step);
            OptimTestData.SetGradients(single2, step);
            for (var k = 0; k < g.Length; k++)
            {
                wide[k].BindGradient(g[k].Select(x => (double)x).ToArray());
                wide2[k].BindGradient(g[k].Select(x => (double)x).ToArray());
            }

            Assert.All(optimizers, o => Assert.True(o.Step().Applied));
        }

        foreach (var (s, w) in single.Zip(wide).Concat(single2.Zip(wide2)))
        {
            var values = w.GetValues<double>();
            for (var i = 0; i < values.Length; i++)
            {
                Assert.True(Math.Abs(values[i] - s.Value[i]) <= 1e-5 * (1 + Math.Abs(values[i])), $"{s.Name}[{i}]: fp64 {values[i]:R}, fp32 {s.Value[i]:R}");
            }
        }

        foreach (var o in optimizers)
        {
            o.Dispose();
        }
    }

    [Fact]
    public void Fp64Parameters_RoundTripThroughACheckpointExactly()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fp64-{Guid.NewGuid():N}.ckpt");
        try
        {
            using var first = NativeModel<double>.Create(OptimTestData.SmallShapes);
            using var a = new Shampoo(first.Parameters, Options with { FactorPrecision = FactorPrecision.Double });
            for (var step = 1; step <= 7; step++)
            {
                first.SetGradients(first.Parameters.Select((p, k) => OptimTestData.Gradient(p.Length, k, step)).ToArray());
                a.Step();
            }

            Checkpoint.Save(a, path);
            var resumed = first.Parameters.Select((p, k) => new Parameter(p.Name, new double[p.Length], OptimTestData.SmallShapes[k])).ToArray();
            using var b = new Shampoo(resumed, Options with { FactorPrecision = FactorPrecision.Double });
            Checkpoint.Load(b, path);
            Assert.Equal(7, b.StepCount);
            for (var step = 8; step <= 14; step++)
            {
                for (var k = 0; k < resumed.Length; k++)
                {
                    if (step == 8)
                    {
                        Assert.True(first.Parameters[k].GetValues<double>().SequenceEqual(resumed[k].GetValues<double>()), $"parameter {k} after loading");
                    }

                    var g = OptimTestData.Gradient(resumed[k].Length, k, step).Select(x => (double)x).ToArray();
                    g.CopyTo(first.Parameters[k].GetGradient<double>());
                    resumed[k].BindGradient(g);
                }

                Assert.Equal(a.Step(), b.Step());
            }

            for (var k = 0; k < resumed.Length; k++)
            {
                Assert.True(first.Parameters[k].GetValues<double>().SequenceEqual(resumed[k].GetValues<double>()), $"parameter {k} after resuming");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void InvalidMemory_IsRejectedOnConstructionOrBinding()
    {
        Assert.Throws<ArgumentNullException>(() => new Parameter("w", (float[])null!, 3));
        Assert.Throws<ArgumentNullException>(() => new Parameter("w", (double[])null!, 3));
        Assert.Throws<ArgumentNullException>(() => Parameter.FromPointer("w", 0, 3, ParameterPrecision.Single, 3));
        Assert.Throws<ArgumentException>(() => Parameter.FromMemory("w", new float[5].AsMemory(), 2, 3));
        using var native = new NativeBuffer<float>(6);
        Assert.Throws<ArgumentException>(() => Parameter.FromPointer("w", native.Pointer, 5, ParameterPrecision.Single, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Parameter.FromPointer("w", native.Pointer, 6, (ParameterPrecision)7, 2, 3));

        var parameter = new Parameter("w", new float[6], 2, 3);
        var gradient = parameter.Gradient;
        Assert.Throws<ArgumentNullException>(() => parameter.BindGradient((float[])null!));
        Assert.Throws<ArgumentNullException>(() => parameter.BindGradient(0, 6));
        var wrong = Assert.Throws<ArgumentException>(() => parameter.BindGradient(new float[5]));
        Assert.Contains("'w'", wrong.Message);
        Assert.Throws<ArgumentException>(() => parameter.BindGradient(new float[7].AsMemory()));
        Assert.Throws<ArgumentException>(() => parameter.BindGradient(native.Pointer, 5));
        Assert.Throws<InvalidOperationException>(() => parameter.BindGradient(new double[6]));
        Assert.Throws<InvalidOperationException>(() => parameter.GetValues<double>());
        Assert.Same(gradient, parameter.Gradient);
    }

    public static TheoryData<string> InvalidBuffers => new() { "wrong length", "disposed gradient", "disposed values", "overlap" };

    [Theory]
    [MemberData(nameof(InvalidBuffers))]
    public void InvalidBuffers_ThrowBeforeAnyStateChanges(string invalid)
    {
        var good = new Parameter("good", SeededRandom.GaussianSingle(3, 30), 6, 5);
        var valueManager = new DisposableMemory(SeededRandom.GaussianSingle(4, 12));
        var shared = new float[18];
        SeededRandom.GaussianSingle(5, 12).CopyTo(shared, 0);
        var gradientManager = new DisposableMemory(new float[12]);
        var bad = invalid switch
        {
            "disposed values" => Parameter.FromMemory("bad", valueManager.Memory, 3, 4),
            "overlap" => Parameter.FromMemory("bad", shared.AsMemory(0, 12), 3, 4),
            _ => Parameter.FromMemory("bad", SeededRandom.GaussianSingle(4, 12).AsMemory(), 3, 4),
        };
        bad.BindGradient(gradientManager.Memory);
        using var optimizer = new Shampoo([good, bad], Options with { StartPreconditioningStep = 1 });
        good.Gradient = OptimTestData.Gradient(30, 0, 1);
        OptimTestData.Gradient(12, 1, 1).CopyTo(gradientManager.Memory.Span);
        Assert.True(optimizer.Step().Applied);
        var goodValues = good.Value.ToArray();
        var badValues = bad.GetValues<float>().ToArray();
        var exported = optimizer.ExportState();

        Exception error;
        switch (invalid)
        {
            case "wrong length":
                good.Gradient = new float[29];
                error = Assert.Throws<ArgumentException>(() => optimizer.Step());
                Assert.Contains("'good'", error.Message);
                break;
            case "disposed gradient":
                ((IDisposable)gradientManager).Dispose();
                error = Assert.Throws<ObjectDisposedException>(() => optimizer.Step());
                Assert.Contains("gradient of parameter 'bad'", error.Message);
                break;
            case "disposed values":
                ((IDisposable)valueManager).Dispose();
                error = Assert.Throws<ObjectDisposedException>(() => optimizer.Step());
                Assert.Contains("values of parameter 'bad'", error.Message);
                break;
            default:
                bad.BindGradient(shared.AsMemory(6, 12));
                error = Assert.Throws<ArgumentException>(() => optimizer.Step());
                Assert.Contains("'bad' overlap", error.Message);
                break;
        }

        Assert.Contains("No optimizer state was changed", error.Message);
        Assert.Equal(1, optimizer.StepCount);
        Assert.Equal(goodValues, good.Value);
        if (invalid != "disposed values")
        {
            Assert.Equal(badValues, bad.GetValues<float>().ToArray());
            var now = optimizer.ExportState();
            Assert.Equal(exported.Count, now.Count);
            for (var t = 0; t < now.Count; t++)
            {
                Assert.Equal(exported[t].Data, now[t].Data);
            }
        }
    }

    private static void AssertBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}, element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    /// <summary>Native memory the test owns (values or gradients of a framework).</summary>
    private sealed unsafe class NativeBuffer<T> : IDisposable where T : unmanaged
    {
        public NativeBuffer(int length)
        {
            Length = length;
            Pointer = (nint)NativeMemory.AlignedAlloc((nuint)(length * sizeof(T)), 64);
            Span.Clear();
        }

        public nint Pointer { get; private set; }

        public int Length { get; }

        public Span<T> Span => new((void*)Pointer, Length);

        public void Dispose()
        {
            NativeMemory.AlignedFree((void*)Pointer);
            Pointer = 0;
        }
    }

    /// <summary>Parameters over native values and gradients, seeded like <see cref="OptimTestData.Parameters"/>.</summary>
    private sealed unsafe class NativeModel<T> : IDisposable where T : unmanaged
    {
        private readonly List<NativeBuffer<T>> buffers = [];

        private NativeModel(int[][] shapes)
        {
            var seeds = OptimTestData.Parameters(shapes);
            Parameters = new Parameter[shapes.Length];
            Values = new nint[shapes.Length];
            Gradients = new nint[shapes.Length];
            var precision = typeof(T) == typeof(float) ? ParameterPrecision.Single : ParameterPrecision.Double;
            for (var k = 0; k < shapes.Length; k++)
            {
                var v = new NativeBuffer<T>(seeds[k].Length);
                var g = new NativeBuffer<T>(seeds[k].Length);
                buffers.Add(v);
                buffers.Add(g);
                for (var i = 0; i < v.Length; i++)
                {
                    v.Span[i] = typeof(T) == typeof(float) ? (T)(object)seeds[k].Value[i] : (T)(object)(double)seeds[k].Value[i];
                }

                Parameters[k] = Parameter.FromPointer(seeds[k].Name, v.Pointer, v.Length, precision, shapes[k]);
                Parameters[k].BindGradient(g.Pointer, g.Length);
                Values[k] = v.Pointer;
                Gradients[k] = g.Pointer;
            }
        }

        public Parameter[] Parameters { get; }

        public nint[] Values { get; }

        public nint[] Gradients { get; }

        public static NativeModel<T> Create(int[][] shapes) => new(shapes);

        /// <summary>Writes fp32 gradients into the native gradient buffers (widened for fp64), without allocating.</summary>
        public void SetGradients(float[][] gradients)
        {
            for (var k = 0; k < Parameters.Length; k++)
            {
                if (typeof(T) == typeof(float))
                {
                    gradients[k].CopyTo(new Span<float>((void*)Gradients[k], gradients[k].Length));
                }
                else
                {
                    var g = new Span<double>((void*)Gradients[k], gradients[k].Length);
                    for (var i = 0; i < g.Length; i++)
                    {
                        g[i] = gradients[k][i];
                    }
                }
            }
        }

        public void Dispose()
        {
            foreach (var b in buffers)
            {
                b.Dispose();
            }
        }
    }

    /// <summary>A memory owner whose <see cref="Memory{T}.Span"/> throws once disposed, as pooled or native owners do.</summary>
    private sealed class DisposableMemory(float[] data) : MemoryManager<float>
    {
        private bool disposed;

        public override Span<float> GetSpan() => disposed ? throw new ObjectDisposedException(nameof(DisposableMemory)) : data;

        public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing) => disposed = true;
    }
}
