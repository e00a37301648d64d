using System.Runtime.Intrinsics;

namespace ShampooMkl.Linalg;

/// <summary>The fp64 values tᵢ whose squares <see cref="FixedOrderSum"/> adds up, read one element or eight at a time.</summary>
/// <remarks>Both reads must give the same bits for the same element: the vector read is the scalar read done on eight
/// elements at once with the same IEEE operations (no fused multiply-add).</remarks>
internal interface ISquaredTerms
{
    /// <summary>Number of terms n.</summary>
    int Length { get; }

    /// <summary>tᵢ.</summary>
    double Term(int index);

    /// <summary>t[index … index + 7] as four pairs: t0 = (t[index], t[index+1]), t1 = the next two, and so on.</summary>
    void Terms(int index, out Vector128<double> t0, out Vector128<double> t1, out Vector128<double> t2, out Vector128<double> t3);

    /// <summary>t[index … index + 7] as two quadruples: low = t[index … index + 3], high = t[index + 4 … index + 7].</summary>
    void Terms(int index, out Vector256<double> low, out Vector256<double> high);
}
