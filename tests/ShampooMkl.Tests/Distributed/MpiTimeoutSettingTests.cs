using ShampooMkl.Distributed;

namespace ShampooMkl.Tests.Distributed;

/// <summary><see cref="MpiCommunicator.TimeoutVariable"/>: what <c>SHAMPOO_MPI_TIMEOUT</c> accepts, without MPI.</summary>
public sealed class MpiTimeoutSettingTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Unset_GivesTheDefault(string? value)
    {
        Assert.Equal(MpiCommunicator.DefaultCollectiveTimeout, MpiCommunicator.ParseTimeout(value));
    }

    [Theory]
    [InlineData("2", 2000)]
    [InlineData("0.5", 500)]
    [InlineData("1e1", 10000)]
    public void Seconds_AreRead_InTheInvariantCulture(string value, double milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), MpiCommunicator.ParseTimeout(value));
    }

    [Fact]
    public void Infinite_WaitsForEver()
    {
        Assert.Equal(Timeout.InfiniteTimeSpan, MpiCommunicator.ParseTimeout("Infinite"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("abc")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("1e300")]
    public void AnythingElse_IsRefusedNamingTheVariable(string value)
    {
        var e = Assert.Throws<ArgumentException>(() => MpiCommunicator.ParseTimeout(value));

        Assert.StartsWith($"SHAMPOO_MPI_TIMEOUT='{value}' is not a timeout", e.Message, StringComparison.Ordinal);
    }
}
