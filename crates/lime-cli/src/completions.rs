//! `lime completions SHELL` and `lime completions man`: generated from the
//! same clap definitions the parser uses, so they never drift.

use std::io::Write as _;

use clap::{Args, CommandFactory, ValueEnum};

use crate::report::Failure;

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for, or `man` for the man page (roff).
    #[arg(value_enum)]
    target: Target,
    /// With `man`: write one page per command (lime.1, lime-login.1, …)
    /// into DIR instead of printing lime(1).
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
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

/// Prints the script or page on stdout; a reader that goes away (`| head
/// -1`) ends it quietly with exit 141, as a shell pipeline expects.
pub(crate) fn run(args: &CompletionsArgs) -> Result<u8, Failure> {
    use clap_complete::Shell;
    let mut command = crate::Cli::command();
    if let Some(dir) = &args.dir {
        if args.target != Target::Man {
            return Err(Failure::new(
                crate::report::Kind::InvalidInput,
                "--dir goes with `man` only: a shell's completions are one script",
            ));
        }
        clap_mangen::generate_to(command, dir).map_err(|e| {
            Failure::new(
                crate::report::Kind::Config,
                format!("cannot write the man pages into {}: {e}", dir.display()),
            )
        })?;
        return Ok(0);
    }
    let mut text = Vec::new();
    let shell = match args.target {
        Target::Bash => Some(Shell::Bash),
        Target::Zsh => Some(Shell::Zsh),
        Target::Fish => Some(Shell::Fish),
        Target::PowerShell => Some(Shell::PowerShell),
        Target::Elvish => Some(Shell::Elvish),
        Target::Man => None,
    };
    match shell {
        Some(shell) => clap_complete::generate(shell, &mut command, "lime", &mut text),
        None => clap_mangen::Man::new(command)
            .render(&mut text)
            .map_err(|e| Failure::internal(format!("cannot render the man page: {e}")))?,
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&text).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(CLOSED_PIPE),
        Err(e) => Err(Failure::new(
            crate::report::Kind::Internal,
            format!("cannot write to stdout: {e}"),
        )),
    }
}

/// The exit code of a command whose reader closed the pipe (128 + SIGPIPE).
const CLOSED_PIPE: u8 = 141;
