namespace ShampooMkl.Native;

/// <summary>One listed library file (a manifest entry or the override variable's value) and the paths it is tried at, in
/// order; a load failure is reported once per listed file, not once per path.</summary>
/// <param name="Listed">The entry as listed: a bare file name or an absolute path.</param>
/// <param name="Paths">Where it is tried, first to last; never empty.</param>
internal sealed record NativeLibraryCandidate(string Listed, IReadOnlyList<string> Paths);
