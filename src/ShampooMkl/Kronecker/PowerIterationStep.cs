namespace ShampooMkl.Kronecker;

/// <summary>One pass of the power iteration: its number, the change it made, and ⟨H, A_t ⊗ B_t⟩ of the pair it started from.</summary>
public readonly record struct PowerIterationStep(int Iteration, double RelativeChange, double PreviousInnerProduct);
