namespace ShampooMkl.Analysis.Data;

/// <summary>A fixed train/test partition, so every experiment with the same seed evaluates on the same digits.</summary>
public sealed record MnistSplit(LabeledImages Train, LabeledImages Test);
