using ShampooMkl.Cli.Commands;

// The command tree is in CliRoot; every error, of parsing or of a command, goes through the one policy in GlobalOptions.Run.
return GlobalOptions.Run(CliRoot.Create(), args);
