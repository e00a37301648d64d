namespace ShampooMkl.Cli.Diagnostics;

/// <summary>Text helpers shared by the diagnosis and the command line.</summary>
internal static class NativeDiagnosticsText
{
    /// <summary>An exception's message without .NET's " (Parameter 'x')" suffix, which means nothing to a CLI user.</summary>
    public static string WithoutParameterName(Exception e) =>
        e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
}
