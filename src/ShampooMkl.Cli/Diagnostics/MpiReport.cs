namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Whether the MPI library that <c>mpirun</c> training needs was found; optional, so it never fails the doctor.</summary>
/// <param name="Found">True when a library loaded and exports every function and handle the communicator uses.</param>
/// <param name="LibraryPath">Full path of the library that loaded, or null.</param>
/// <param name="Version">Its version as it reports it, or null.</param>
/// <param name="MissingSymbols">Required functions and handles it lacks (empty when found or not loaded).</param>
/// <param name="Attempts">Every path tried and why it failed, in order.</param>
/// <param name="LaunchedByMpirun">True when this process itself runs under an MPI launcher.</param>
public sealed record MpiReport(
    bool Found,
    string? LibraryPath,
    string? Version,
    IReadOnlyList<string> MissingSymbols,
    IReadOnlyList<string> Attempts,
    bool LaunchedByMpirun);
