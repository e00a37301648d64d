namespace ShampooMkl.Analysis.Experiments;

/// <summary>Which labels the per-example gradients of a dense layer are taken against.</summary>
public enum LabelMode
{
    /// <summary>The data set's labels: Adagrad's gradients, and the empirical Fisher when read as a Hessian estimate.</summary>
    True,

    /// <summary>One label per example drawn from the model's softmax, ŷ ~ p(·|x): a one-sample Monte-Carlo Fisher (= Gauss–Newton).</summary>
    Sampled,

    /// <summary>Every class c, the gradient weighted by p(c|x): the exact Fisher, which for softmax cross-entropy is the Gauss–Newton matrix.</summary>
    Exact,
}
