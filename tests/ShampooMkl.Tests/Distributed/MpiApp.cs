namespace ShampooMkl.Tests.Distributed;

/// <summary>One application of an MPMD job (<see cref="MpiJob.RunMpmd"/>): <paramref name="Ranks"/> processes of
/// <c>dotnet <paramref name="Dll"/> <paramref name="Args"/></c>.</summary>
public sealed record MpiApp(int Ranks, string Dll, IReadOnlyList<string> Args);
