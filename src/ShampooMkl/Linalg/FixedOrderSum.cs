using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ShampooMkl.Linalg;

/// <summary>Σ tᵢ² in fp64 in one fixed order, so the result has the same bits on every machine: it does not depend on
/// <see cref="Vector{T}.Count"/> (2, 4 or 8 doubles by hardware and DOTNET_PreferredVectorBitWidth) nor on whether
/// Vector128 is hardware-accelerated.</summary>
/// <remarks>
/// <para>The order, for n terms and m = n − n mod 8:</para>
/// <list type="number">
/// <item>eight lanes: lane j (0 ≤ j &lt; 8) starts at +0 and adds tᵢ² (the square rounded, then added) for
/// i = j, j + 8, …, i &lt; m, in increasing i;</item>
/// <item>the lanes are reduced as ((l₀ + l₄) + (l₂ + l₆)) + ((l₁ + l₅) + (l₃ + l₇));</item>
/// <item>the tail tₘ², …, tₙ₋₁² is added to that one at a time, in increasing i.</item>
/// </list>
/// <para>The vector path holds the lanes in four Vector128 accumulators a₀ = (l₀, l₁), …, a₃ = (l₆, l₇) and reduces
/// (a₀ + a₂) + (a₁ + a₃), then adds the two elements; the scalar path keeps eight doubles and reduces them in the
/// same tree. Vector128 is accelerated on x64 and ARM64 alike, which is why it holds the lanes and not Vector&lt;T&gt;.
/// Distributed training relies on this: every rank computes each block's grafting scale from such sums and the
/// parameters must stay bit-identical across ranks on different hardware.</para>
/// </remarks>
internal static class FixedOrderSum
{
    /// <summary>Number of partial sums (lanes).</summary>
    public const int Lanes = 8;

    /// <summary>The fastest path this machine accelerates.</summary>
    public static SumPath BestPath { get; } =
        Vector256.IsHardwareAccelerated ? SumPath.Vector256 : Vector128.IsHardwareAccelerated ? SumPath.Vector128 : SumPath.Scalar;

    /// <summary>Σ xᵢ², fp32 elements widened to fp64 before squaring.</summary>
    public static double SumOfSquares<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T> =>
        SumOfSquares(new Values<T>(values), BestPath);

    /// <summary><see cref="SumOfSquares{T}(ReadOnlySpan{T})"/> on the best vector path or on the scalar path (same bits).</summary>
    internal static double SumOfSquares<T>(ReadOnlySpan<T> values, bool vectorized) where T : unmanaged, IFloatingPointIeee754<T> =>
        SumOfSquares(new Values<T>(values), vectorized ? BestPath : SumPath.Scalar);

    /// <summary><see cref="SumOfSquares{T}(ReadOnlySpan{T})"/> on a chosen path (every path gives the same bits).</summary>
    internal static double SumOfSquares<T>(ReadOnlySpan<T> values, SumPath path) where T : unmanaged, IFloatingPointIeee754<T> =>
        SumOfSquares(new Values<T>(values), path);

    /// <summary>Σ tᵢ² in the order of the class remarks, on the best vector path or on the scalar path.</summary>
    internal static double SumOfSquares<TTerms>(TTerms terms, bool vectorized) where TTerms : ISquaredTerms, allows ref struct =>
        SumOfSquares(terms, vectorized ? BestPath : SumPath.Scalar);

    /// <summary>Σ tᵢ² in the order of the class remarks, on the given path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double SumOfSquares<TTerms>(TTerms terms, SumPath path) where TTerms : ISquaredTerms, allows ref struct
    {
        var n = terms.Length;
        var m = n - (n % Lanes);
        double sum;
        if (path == SumPath.Vector256)
        {
            // A0 = (l₀, l₁, l₂, l₃), A1 = (l₄, …, l₇); A0 + A1 = (l₀+l₄, l₁+l₅, l₂+l₆, l₃+l₇), whose halves added give
            // ((l₀+l₄)+(l₂+l₆), (l₁+l₅)+(l₃+l₇)): the Vector128 path's s, so the same tree and the same bits.
            var a0 = Vector256<double>.Zero;
            var a1 = Vector256<double>.Zero;
            for (var i = 0; i < m; i += Lanes)
            {
                terms.Terms(i, out Vector256<double> low, out Vector256<double> high);
                a0 += low * low;
                a1 += high * high;
            }

            var both = a0 + a1;
            var s = both.GetLower() + both.GetUpper();
            sum = s.GetElement(0) + s.GetElement(1);
        }
        else if (path == SumPath.Vector128)
        {
            var a0 = Vector128<double>.Zero;
            var a1 = Vector128<double>.Zero;
            var a2 = Vector128<double>.Zero;
            var a3 = Vector128<double>.Zero;
            for (var i = 0; i < m; i += Lanes)
            {
                terms.Terms(i, out var t0, out var t1, out var t2, out var t3);
                a0 += t0 * t0;
                a1 += t1 * t1;
                a2 += t2 * t2;
                a3 += t3 * t3;
            }

            var s = (a0 + a2) + (a1 + a3);
            sum = s.GetElement(0) + s.GetElement(1);
        }
        else
        {
            double l0 = 0, l1 = 0, l2 = 0, l3 = 0, l4 = 0, l5 = 0, l6 = 0, l7 = 0;
            for (var i = 0; i < m; i += Lanes)
            {
                l0 += Square(terms.Term(i));
                l1 += Square(terms.Term(i + 1));
                l2 += Square(terms.Term(i + 2));
                l3 += Square(terms.Term(i + 3));
                l4 += Square(terms.Term(i + 4));
                l5 += Square(terms.Term(i + 5));
                l6 += Square(terms.Term(i + 6));
                l7 += Square(terms.Term(i + 7));
            }

            sum = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7));
        }

        for (var i = m; i < n; i++)
        {
            sum += Square(terms.Term(i));
        }

        return sum;
    }

    /// <summary>x[index … index + 7] as four fp64 pairs (see <see cref="ISquaredTerms"/>), fp32 widened exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Load<T>(ReadOnlySpan<T> x, int index, out Vector128<double> x0, out Vector128<double> x1,
        out Vector128<double> x2, out Vector128<double> x3) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            var f = MemoryMarshal.Cast<T, float>(x);
            (x0, x1) = Vector128.Widen(Vector128.Create(f.Slice(index, 4)));
            (x2, x3) = Vector128.Widen(Vector128.Create(f.Slice(index + 4, 4)));
        }
        else if (typeof(T) == typeof(double))
        {
            var d = MemoryMarshal.Cast<T, double>(x).Slice(index, Lanes);
            x0 = Vector128.Create(d);
            x1 = Vector128.Create(d.Slice(2));
            x2 = Vector128.Create(d.Slice(4));
            x3 = Vector128.Create(d.Slice(6));
        }
        else
        {
            var s = x.Slice(index, Lanes);
            x0 = Vector128.Create(double.CreateTruncating(s[0]), double.CreateTruncating(s[1]));
            x1 = Vector128.Create(double.CreateTruncating(s[2]), double.CreateTruncating(s[3]));
            x2 = Vector128.Create(double.CreateTruncating(s[4]), double.CreateTruncating(s[5]));
            x3 = Vector128.Create(double.CreateTruncating(s[6]), double.CreateTruncating(s[7]));
        }
    }

    /// <summary>x[index … index + 7] as two fp64 quadruples (see <see cref="ISquaredTerms"/>), fp32 widened exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Load<T>(ReadOnlySpan<T> x, int index, out Vector256<double> low, out Vector256<double> high)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            (low, high) = Vector256.Widen(Vector256.Create(MemoryMarshal.Cast<T, float>(x).Slice(index, Lanes)));
        }
        else if (typeof(T) == typeof(double))
        {
            var d = MemoryMarshal.Cast<T, double>(x).Slice(index, Lanes);
            low = Vector256.Create(d);
            high = Vector256.Create(d.Slice(4));
        }
        else
        {
            Load(x, index, out var x0, out var x1, out var x2, out var x3);
            low = Vector256.Create(x0, x1);
            high = Vector256.Create(x2, x3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Square(double x) => x * x;

    /// <summary>tᵢ = xᵢ widened to fp64.</summary>
    private readonly ref struct Values<T> : ISquaredTerms where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ReadOnlySpan<T> values;

        public Values(ReadOnlySpan<T> values) => this.values = values;

        public int Length => values.Length;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public double Term(int index) => double.CreateTruncating(values[index]);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Terms(int index, out Vector128<double> t0, out Vector128<double> t1, out Vector128<double> t2, out Vector128<double> t3) =>
            Load(values, index, out t0, out t1, out t2, out t3);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Terms(int index, out Vector256<double> low, out Vector256<double> high) => Load(values, index, out low, out high);
    }
}
