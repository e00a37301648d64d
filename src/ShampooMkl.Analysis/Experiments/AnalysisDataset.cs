namespace ShampooMkl.Analysis.Experiments;

/// <summary>The data sets the Hessian analysis runs on.</summary>
public enum AnalysisDataset
{
    /// <summary>All ten MNIST digits.</summary>
    Mnist,

    /// <summary>Two MNIST digits relabelled 0/1 (the paper's MNIST-2).</summary>
    Mnist2,
}
