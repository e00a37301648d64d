namespace ShampooMkl.Analysis.Models;

/// <summary>Weight initialisation shared by the layers.</summary>
internal static class Initialization
{
    /// <summary>He/Kaiming-uniform: U(−b, b) with b = √(6 / fanIn), which keeps the activation variance
    /// constant through ReLU layers (gain √2 on a unit-variance uniform).</summary>
    public static void KaimingUniform(Span<float> weights, int fanIn, Random random)
    {
        var bound = Math.Sqrt(6.0 / fanIn);
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(((2.0 * random.NextDouble()) - 1.0) * bound);
        }
    }
}
