namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Whether one exported symbol was found in the loaded library.</summary>
public sealed record SymbolCheck(string Name, bool Found);
