// torch.manual_seed, the default BLAS backend and its thread count are process-wide: tests that build "identical"
// models from one seed must not interleave with others drawing random numbers.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
