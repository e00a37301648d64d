using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ShampooMkl.Optim;

/// <summary>The scalars of the momentum, weight-decay and update stage for one step: rounded to the state type
/// <typeparamref name="T"/> once, and in fp64 for fp64 parameters.</summary>
internal readonly struct UpdateCoefficients<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public UpdateCoefficients(ShampooOptions o, long step, double learningRate)
    {
        var correction = o.BiasCorrection ? 1.0 - Math.Pow(o.Beta1, step) : 1.0;
        DecayDouble = 1.0 - (learningRate * o.WeightDecay);
        LearningRateDouble = learningRate;
        Decay = T.CreateTruncating(DecayDouble);
        LearningRate = T.CreateTruncating(learningRate);
        Keep = T.CreateTruncating(o.Beta1);
        Add = T.CreateTruncating(1.0 - o.Beta1);
        FromMomentum = T.CreateTruncating((o.Nesterov ? o.Beta1 : 1.0) / correction);
        FromDirection = o.Nesterov ? Add : T.Zero;
    }

    /// <summary>1 − ηλ in <typeparamref name="T"/>, the factor of fp32 parameters.</summary>
    public T Decay { get; }

    /// <summary>η in <typeparamref name="T"/>, the factor of fp32 parameters.</summary>
    public T LearningRate { get; }

    /// <summary>1 − ηλ unrounded, the factor of fp64 parameters (equal to <see cref="Decay"/> when T is double).</summary>
    public double DecayDouble { get; }

    /// <summary>η unrounded, the factor of fp64 parameters (equal to <see cref="LearningRate"/> when T is double).</summary>
    public double LearningRateDouble { get; }

    public T Keep { get; }

    public T Add { get; }

    public T FromMomentum { get; }

    public T FromDirection { get; }
}

/// <summary>The element-wise kernels of the update stage over one row of a block, with the direction and momentum in
/// <typeparamref name="T"/> and the parameter in TW (fp32 or fp64).</summary>
/// <remarks>The vector loops do the scalar tail's operations in the same order (no fused multiply-add), so an
/// element's bits do not depend on where it falls or on the machine's vector width. fp32 parameters are updated in
/// <typeparamref name="T"/> and rounded to fp32 once; fp64 parameters are updated in fp64 from the direction (or u)
/// in <typeparamref name="T"/>, widened exactly. The kernels are compiled fully optimised on first call
/// (AggressiveOptimization) because at tier 0 the Vector&lt;T&gt; operations are calls rather than instructions.</remarks>
internal static class UpdateKernels<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>W ← W·(1 − ηλ) − η·s·d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UpdateRow<TW>(Span<TW> w, ReadOnlySpan<T> d, T scale, in UpdateCoefficients<T> k)
        where TW : unmanaged, IFloatingPointIeee754<TW>
    {
        if (typeof(TW) == typeof(float))
        {
            UpdateSingle(MemoryMarshal.Cast<TW, float>(w), d, scale, k);
        }
        else
        {
            UpdateDouble(MemoryMarshal.Cast<TW, double>(w), d, scale, k);
        }
    }

    /// <summary>m ← β₁m + (1−β₁)·s·d; u = m/c₁ or β₁m/c₁ + (1−β₁)·s·d; W ← W·(1 − ηλ) − η·u.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UpdateRow<TW>(Span<TW> w, ReadOnlySpan<T> d, Span<T> m, T scale, in UpdateCoefficients<T> k)
        where TW : unmanaged, IFloatingPointIeee754<TW>
    {
        if (typeof(TW) == typeof(float))
        {
            MomentumSingle(MemoryMarshal.Cast<TW, float>(w), d, m, scale, k);
        }
        else
        {
            MomentumDouble(MemoryMarshal.Cast<TW, double>(w), d, m, scale, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateSingle(Span<float> w, ReadOnlySpan<T> d, T scale, in UpdateCoefficients<T> k)
    {
        var start = 0;
        if (Vector.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            var wf = MemoryMarshal.Cast<float, T>(w);
            var vDecay = new Vector<T>(k.Decay);
            var vLr = new Vector<T>(k.LearningRate);
            var vScale = new Vector<T>(scale);
            for (; start <= w.Length - Vector<T>.Count; start += Vector<T>.Count)
            {
                var di = new Vector<T>(d.Slice(start)) * vScale;
                ((new Vector<T>(wf.Slice(start)) * vDecay) - (vLr * di)).CopyTo(wf.Slice(start));
            }
        }
        else if (Vector.IsHardwareAccelerated)
        {
            var dd = MemoryMarshal.Cast<T, double>(d);
            var vDecay = new Vector<double>(double.CreateTruncating(k.Decay));
            var vLr = new Vector<double>(double.CreateTruncating(k.LearningRate));
            var vScale = new Vector<double>(double.CreateTruncating(scale));
            var width = Vector<double>.Count;
            for (; start <= w.Length - (2 * width); start += 2 * width)
            {
                Vector.Widen(new Vector<float>(w.Slice(start)), out var w0, out var w1);
                var d0 = new Vector<double>(dd.Slice(start)) * vScale;
                var d1 = new Vector<double>(dd.Slice(start + width)) * vScale;
                Vector.Narrow((w0 * vDecay) - (vLr * d0), (w1 * vDecay) - (vLr * d1)).CopyTo(w.Slice(start));
            }
        }

        for (var i = start; i < w.Length; i++)
        {
            var di = d[i] * scale;
            w[i] = float.CreateTruncating((T.CreateTruncating(w[i]) * k.Decay) - (k.LearningRate * di));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateDouble(Span<double> w, ReadOnlySpan<T> d, T scale, in UpdateCoefficients<T> k)
    {
        var start = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vDecay = new Vector<double>(k.DecayDouble);
            var vLr = new Vector<double>(k.LearningRateDouble);
            var width = Vector<double>.Count;
            if (typeof(T) == typeof(double))
            {
                var dd = MemoryMarshal.Cast<T, double>(d);
                var vScale = new Vector<double>(double.CreateTruncating(scale));
                for (; start <= w.Length - width; start += width)
                {
                    var di = new Vector<double>(dd.Slice(start)) * vScale;
                    ((new Vector<double>(w.Slice(start)) * vDecay) - (vLr * di)).CopyTo(w.Slice(start));
                }
            }
            else
            {
                // fp32 direction, fp64 parameters: one fp32 vector widens to two fp64 vectors.
                var df = MemoryMarshal.Cast<T, float>(d);
                var vScale = new Vector<float>(float.CreateTruncating(scale));
                for (; start <= w.Length - (2 * width); start += 2 * width)
                {
                    Vector.Widen(new Vector<float>(df.Slice(start)) * vScale, out var d0, out var d1);
                    ((new Vector<double>(w.Slice(start)) * vDecay) - (vLr * d0)).CopyTo(w.Slice(start));
                    ((new Vector<double>(w.Slice(start + width)) * vDecay) - (vLr * d1)).CopyTo(w.Slice(start + width));
                }
            }
        }

        for (var i = start; i < w.Length; i++)
        {
            var di = double.CreateTruncating(d[i] * scale);
            w[i] = (w[i] * k.DecayDouble) - (k.LearningRateDouble * di);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MomentumSingle(Span<float> w, ReadOnlySpan<T> d, Span<T> m, T scale, in UpdateCoefficients<T> k)
    {
        var start = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vKeep = new Vector<T>(k.Keep);
            var vAdd = new Vector<T>(k.Add);
            var vFromMomentum = new Vector<T>(k.FromMomentum);
            var vFromDirection = new Vector<T>(k.FromDirection);
            var vScale = new Vector<T>(scale);
            if (typeof(T) == typeof(float))
            {
                var wt = MemoryMarshal.Cast<float, T>(w);
                var vDecay = new Vector<T>(k.Decay);
                var vLr = new Vector<T>(k.LearningRate);
                for (; start <= w.Length - Vector<T>.Count; start += Vector<T>.Count)
                {
                    var di = new Vector<T>(d.Slice(start)) * vScale;
                    var mi = (vKeep * new Vector<T>(m.Slice(start))) + (vAdd * di);
                    mi.CopyTo(m.Slice(start));
                    var u = (vFromMomentum * mi) + (vFromDirection * di);
                    ((new Vector<T>(wt.Slice(start)) * vDecay) - (vLr * u)).CopyTo(wt.Slice(start));
                }
            }
            else
            {
                // fp64 state, fp32 parameters: two fp64 vectors per fp32 vector.
                var vDecay = new Vector<double>(double.CreateTruncating(k.Decay));
                var vLr = new Vector<double>(double.CreateTruncating(k.LearningRate));
                var dd = MemoryMarshal.Cast<T, double>(d);
                var md = MemoryMarshal.Cast<T, double>(m);
                var width = Vector<double>.Count;
                for (; start <= w.Length - (2 * width); start += 2 * width)
                {
                    Vector.Widen(new Vector<float>(w.Slice(start)), out var w0, out var w1);
                    var u0 = MomentumStep(dd.Slice(start), md.Slice(start), vScale, vKeep, vAdd, vFromMomentum, vFromDirection);
                    var u1 = MomentumStep(dd.Slice(start + width), md.Slice(start + width), vScale, vKeep, vAdd, vFromMomentum, vFromDirection);
                    Vector.Narrow((w0 * vDecay) - (vLr * u0), (w1 * vDecay) - (vLr * u1)).CopyTo(w.Slice(start));
                }
            }
        }

        for (var i = start; i < w.Length; i++)
        {
            var di = d[i] * scale;
            var mi = (k.Keep * m[i]) + (k.Add * di);
            m[i] = mi;
            var u = (k.FromMomentum * mi) + (k.FromDirection * di);
            w[i] = float.CreateTruncating((T.CreateTruncating(w[i]) * k.Decay) - (k.LearningRate * u));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MomentumDouble(Span<double> w, ReadOnlySpan<T> d, Span<T> m, T scale, in UpdateCoefficients<T> k)
    {
        var start = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vKeep = new Vector<T>(k.Keep);
            var vAdd = new Vector<T>(k.Add);
            var vFromMomentum = new Vector<T>(k.FromMomentum);
            var vFromDirection = new Vector<T>(k.FromDirection);
            var vScale = new Vector<T>(scale);
            var vDecay = new Vector<double>(k.DecayDouble);
            var vLr = new Vector<double>(k.LearningRateDouble);
            var width = Vector<double>.Count;
            if (typeof(T) == typeof(double))
            {
                var dd = MemoryMarshal.Cast<T, double>(d);
                var md = MemoryMarshal.Cast<T, double>(m);
                for (; start <= w.Length - width; start += width)
                {
                    var u = MomentumStep(dd.Slice(start), md.Slice(start), vScale, vKeep, vAdd, vFromMomentum, vFromDirection);
                    ((new Vector<double>(w.Slice(start)) * vDecay) - (vLr * u)).CopyTo(w.Slice(start));
                }
            }
            else
            {
                // fp32 state, fp64 parameters: u in fp32, widened exactly to two fp64 vectors.
                for (; start <= w.Length - (2 * width); start += 2 * width)
                {
                    var di = new Vector<T>(d.Slice(start)) * vScale;
                    var mi = (vKeep * new Vector<T>(m.Slice(start))) + (vAdd * di);
                    mi.CopyTo(m.Slice(start));
                    var u = (vFromMomentum * mi) + (vFromDirection * di);
                    Vector.Widen(u.As<T, float>(), out var u0, out var u1);
                    ((new Vector<double>(w.Slice(start)) * vDecay) - (vLr * u0)).CopyTo(w.Slice(start));
                    ((new Vector<double>(w.Slice(start + width)) * vDecay) - (vLr * u1)).CopyTo(w.Slice(start + width));
                }
            }
        }

        for (var i = start; i < w.Length; i++)
        {
            var di = d[i] * scale;
            var mi = (k.Keep * m[i]) + (k.Add * di);
            m[i] = mi;
            var u = (k.FromMomentum * mi) + (k.FromDirection * di);
            w[i] = (w[i] * k.DecayDouble) - (k.LearningRateDouble * double.CreateTruncating(u));
        }
    }

    /// <summary>The fp64 momentum step for one vector; returns u.</summary>
    private static Vector<double> MomentumStep(ReadOnlySpan<double> d, Span<double> m, Vector<T> scale, Vector<T> keep, Vector<T> add,
        Vector<T> fromMomentum, Vector<T> fromDirection)
    {
        var di = new Vector<double>(d) * scale.As<T, double>();
        var mi = (keep.As<T, double>() * new Vector<double>(m)) + (add.As<T, double>() * di);
        mi.CopyTo(m);
        return (fromMomentum.As<T, double>() * mi) + (fromDirection.As<T, double>() * di);
    }
}
