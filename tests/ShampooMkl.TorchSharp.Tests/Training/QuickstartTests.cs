using TorchSharpQuickstart;

namespace ShampooMkl.TorchSharp.Tests.Training;

/// <summary>samples/TorchSharpQuickstart, run through its entry method with a short schedule: it trains, and the run
/// resumed from its checkpoint ends exactly where the uninterrupted one did.</summary>
public sealed class QuickstartTests
{
    [Fact]
    public void Quickstart_TrainsAndResumesBitExactly()
    {
        var folder = Path.Combine(Path.GetTempPath(), "shampoo-mkl-quickstart-" + Guid.NewGuid().ToString("N"));
        try
        {
            var output = new StringWriter();
            var result = Quickstart.Run(steps: 60, checkpointStep: 25, folder, output);

            Assert.True(result.ResumedEqualsUninterrupted, output.ToString());
            Assert.Equal(result.Uninterrupted.Count, result.Resumed.Count);
            Assert.All(result.Uninterrupted.Zip(result.Resumed), pair => Assert.Equal(pair.First, pair.Second));
            Assert.True(result.LastLoss < 0.5f * result.FirstLoss, $"loss {result.FirstLoss} -> {result.LastLoss}");
            Assert.True(File.Exists(Path.Combine(folder, "model.bin")));
            Assert.True(File.Exists(Path.Combine(folder, "optimizer.ckpt")));
            Assert.Contains("bit for bit", output.ToString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
