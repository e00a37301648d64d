namespace ShampooMkl.Benchmarks.Infrastructure;

/// <summary>Which peak a benchmark's rate is compared with.</summary>
public enum FlopPrecision
{
    /// <summary>fp32 work: compared with the sgemm peak.</summary>
    Single,

    /// <summary>fp64 work: compared with the dgemm peak.</summary>
    Double,
}

/// <summary>Names the static method (on the benchmark class, taking the case's <c>ParameterInstances</c>) that counts the flops of one operation.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FlopsAttribute(string formula, FlopPrecision precision) : Attribute
{
    /// <summary>The counting method's name.</summary>
    public string Formula { get; } = formula;

    /// <summary>The precision the work runs in.</summary>
    public FlopPrecision Precision { get; } = precision;
}

/// <summary>Marks a benchmark whose rate is the peak of its backend and precision in this run.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PeakAttribute : Attribute;
