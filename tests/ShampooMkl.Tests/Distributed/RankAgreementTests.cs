using ShampooMkl.Distributed;
using ShampooMkl.Optim;

namespace ShampooMkl.Tests.Distributed;

/// <summary>The start-up handshake's protocol and messages, on ranks simulated in one process (the real mpirun jobs
/// are in <see cref="TrainDistributedMismatchTests"/> and <see cref="CollectiveAgreementTests"/>).</summary>
public sealed class RankAgreementTests
{
    [Fact]
    public void SameSettingsOnEveryRank_Return()
    {
        var outcomes = InProcessRanks.Run(3, ranks => RankAgreement.Verify(ranks, Settings(("--epochs", "2"), ("--model", "mlp"))));

        Assert.All(outcomes, Assert.Null);
    }

    [Fact]
    public void OneDifferingSetting_EveryRankThrowsTheSameLine_GroupingRanksByValue()
    {
        var outcomes = InProcessRanks.Run(3, ranks =>
            RankAgreement.Verify(ranks, Settings(("--model", "mlp"), ("--epochs", ranks.Rank == 1 ? "3" : "2"))));

        foreach (var outcome in outcomes)
        {
            var e = Assert.IsType<RankMismatchException>(outcome);
            Assert.Equal("The 3 ranks were not started with the same settings (--epochs: ranks 0, 2 have 2, rank 1 has 3); " +
                         "start every rank with the same arguments.", e.Message);
            Assert.Equal(["--epochs"], e.Settings);
        }
    }

    [Fact]
    public void SeveralDifferences_AreAllNamed_InTheOrderGiven()
    {
        var outcomes = InProcessRanks.Run(2, ranks => RankAgreement.Verify(ranks, Settings(
            ("--model", ranks.Rank == 0 ? "linear" : "mlp"), ("--seed", "0"), ("--batch-size", ranks.Rank == 0 ? "64" : "128"))));

        Assert.All(outcomes, o => Assert.Equal(
            "The 2 ranks were not started with the same settings (--model: rank 0 has linear, rank 1 has mlp; " +
            "--batch-size: rank 0 has 64, rank 1 has 128); start every rank with the same arguments.", Assert.IsType<RankMismatchException>(o).Message));
    }

    [Fact]
    public void ASettingMissingOnOneRank_IsNamedAsNotGiven()
    {
        var outcomes = InProcessRanks.Run(2, ranks => RankAgreement.Verify(ranks, ranks.Rank == 0
            ? Settings(("--model", "mlp"), ("--resume", "yes"))
            : Settings(("--model", "mlp"))));

        Assert.All(outcomes, o => Assert.Contains("--resume: rank 0 has yes, rank 1 has (not given)", Assert.IsType<RankMismatchException>(o).Message, StringComparison.Ordinal));
    }

    [Fact]
    public void LongValues_AreQuotedAroundTheirFirstDifference()
    {
        var prefix = string.Concat(Enumerable.Repeat("layer[8x8];", 30));
        var outcomes = InProcessRanks.Run(2, ranks => RankAgreement.Verify(ranks, Settings(("shapes", prefix + (ranks.Rank == 0 ? "fc[16x20]" : "fc[24x20]") + prefix))));

        var message = Assert.IsType<RankMismatchException>(outcomes[0]).Message;
        Assert.Contains("fc[16x20]", message, StringComparison.Ordinal);
        Assert.Contains("fc[24x20]", message, StringComparison.Ordinal);
        Assert.True(message.Length < 400, message);
    }

    [Fact]
    public void OneRank_HasNothingToCompare()
    {
        using var single = new SingleProcessCommunicator();

        RankAgreement.Verify(single, Settings(("--epochs", "2")));
    }

    [Theory]
    [InlineData("", "1")]
    [InlineData("a\u001fb", "1")]
    [InlineData("a", "x\u001ey")]
    public void NamesAndValuesThatWouldBreakTheProtocol_AreRefusedBeforeAnyExchange(string name, string value)
    {
        using var single = new SingleProcessCommunicator();

        Assert.Throws<ArgumentException>(() => RankAgreement.Verify(single, Settings((name, value))));
    }

    private static List<KeyValuePair<string, string>> Settings(params (string Name, string Value)[] settings) =>
        settings.Select(s => new KeyValuePair<string, string>(s.Name, s.Value)).ToList();
}
