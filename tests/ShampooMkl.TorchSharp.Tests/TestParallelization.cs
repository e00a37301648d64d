// torch's random generator (torch.manual_seed, the default initialisation of every module) is process-wide, so two
// test classes building seeded models at once would draw from each other's sequence. The TorchSharp tests therefore
// run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
