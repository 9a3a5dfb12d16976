//! `lime completions SHELL` and `lime completions man`: generated from the
//! same clap definitions the parser uses, so they never drift.

use clap::{Args, CommandFactory, ValueEnum};

use crate::report::Failure;

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for, or `man` for the man page (roff).
    #[arg(value_enum)]
    target: Target,
}

/// What `lime completions` can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Bash,
    Zsh,
    Fish,
    #[value(name = "powershell")]
    PowerShell,
    Elvish,
    /// The man page, lime(1), in roff.
    Man,
}

/// Prints the script or page on stdout.
pub(crate) fn run(args: &CompletionsArgs) -> Result<u8, Failure> {
    use clap_complete::Shell;
    let mut command = crate::Cli::command();
    let mut out = std::io::stdout().lock();
    let shell = match args.target {
        Target::Bash => Shell::Bash,
        Target::Zsh => Shell::Zsh,
        Target::Fish => Shell::Fish,
        Target::PowerShell => Shell::PowerShell,
        Target::Elvish => Shell::Elvish,
        Target::Man => {
            clap_mangen::Man::new(command)
                .render(&mut out)
                .map_err(|e| Failure::internal(format!("cannot write the man page: {e}")))?;
            return Ok(0);
        }
    };
    clap_complete::generate(shell, &mut command, "lime", &mut out);
    Ok(0)
}
