//! `lime`: the LIME agent-login cycle from the command line.
#![forbid(unsafe_code)]

mod agent;
mod client;
mod completions;
mod demo;
mod logging;
mod mcp;
mod pow;
mod report;
mod serve;
mod site;
mod spinner;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::report::{Failure, Kind};

const AFTER_EXIT_CODES: &str = "\
Durations (SECONDS) are finite numbers from 0 to 1000000000 (about 31
years); anything else exits 2.

The agent token is read from LIME_AGENT_TOKEN, --token-file PATH or
--token-stdin (the flags win); it is never accepted as a plain argument.";

/// The LIME agent SDK's command line: run the full login cycle locally,
/// confirm logins as an agent, call MCP servers with the agent's token, act
/// as a site, work with proofs of work, and serve a local LIME API emulator.
#[derive(Debug, Parser)]
#[command(name = "lime", version, after_long_help = format!("{}\n{AFTER_EXIT_CODES}", crate::report::exit_table()))]
struct Cli {
    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Log to stderr: -v the SDK's steps and the emulator's requests, -vv
    /// also headers (secrets redacted), timings and state changes. Never
    /// shows the token, the challenge or the nonce. Retries are shown
    /// without it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// When to colour output, decided per stream: auto colours a terminal
    /// unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    color: report::ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole cycle against an embedded emulator: a site asks, an
    /// agent solves and approves, the site receives a verified passport, and
    /// the agent calls an MCP tool with its token.
    ///
    /// The emulator's RSA signing key is made on the first run and kept for
    /// later ones in the user's cache directory (lime/demo-signing-key.der,
    /// owner-only); delete the file for a new key.
    Demo(demo::DemoArgs),
    /// Confirm a login request as the agent.
    Login(agent::LoginArgs),
    /// Print the agent's profile.
    Profile(agent::ProfileArgs),
    /// The site's side: create a login request, wait for its event.
    #[command(subcommand)]
    Site(site::SiteCommand),
    /// MCP: access tokens for an MCP server, and its tools, resources and
    /// prompts called with them.
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
    /// Proof-of-work tools: solve, verify, benchmark.
    #[command(subcommand)]
    Pow(pow::PowCommand),
    /// Run the LIME API emulator until Ctrl-C or SIGTERM.
    Serve(Box<serve::ServeArgs>),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    /// or the man page, generated from these very definitions.
    Completions(completions::CompletionsArgs),
    /// What this binary is: version, target, TLS provider, and the
    /// configuration an agent command would use (never the token itself).
    Version(client::ClientArgs),
}

fn main() -> ExitCode {
    install_panic_hook();
    #[cfg(debug_assertions)]
    if std::env::var_os("LIME_CLI_TEST_PANIC").is_some() {
        // Debug builds only: lets the CLI tests prove the hook's exit code.
        panic!("panic requested by LIME_CLI_TEST_PANIC");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return argument_error(error),
    };
    report::set_color(cli.color);
    logging::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report::failure(
                cli.json,
                &Failure::new(Kind::Config, format!("cannot start the runtime: {e}")),
            );
            return ExitCode::from(2);
        }
    };
    let json = cli.json;
    let serving = matches!(cli.command, Command::Serve(_));
    SERVING.store(serving, std::sync::atomic::Ordering::Relaxed);
    let outcome = runtime.block_on(async move {
        let work = async {
            match cli.command {
                Command::Demo(args) => demo::run(args, json).await,
                Command::Login(args) => agent::login(args, json).await,
                Command::Profile(args) => agent::profile(args, json).await,
                Command::Site(cmd) => site::run(cmd, json).await,
                Command::Pow(cmd) => pow::run(cmd, json).await,
                Command::Mcp(cmd) => mcp::run(cmd, json).await,
                Command::Serve(args) => serve::run(*args, json).await,
                Command::Completions(args) => completions::run(&args),
                Command::Version(args) => Ok(version(&args, json)),
            }
        };
        if serving {
            // `serve` handles Ctrl-C itself: a graceful stop, exit 0.
            return work.await;
        }
        tokio::select! {
            outcome = work => outcome,
            _ = tokio::signal::ctrl_c() => Err(Failure::new(Kind::Cancelled, "interrupted")),
        }
    });
    // A solve or other blocking work left behind by Ctrl-C has been told to
    // stop; never wait long for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            report::failure(json, &failure);
            ExitCode::from(failure.exit_code())
        }
    }
}

/// `lime version`: the build, and the effective configuration as
/// `gh auth status` shows it (where the token came from, never the token).
fn version(args: &client::ClientArgs, json: bool) -> u8 {
    let token_source = if args.token_file.is_some() {
        "--token-file"
    } else if args.token_stdin {
        "--token-stdin"
    } else if std::env::var_os("LIME_AGENT_TOKEN").is_some_and(|t| !t.is_empty()) {
        "LIME_AGENT_TOKEN"
    } else {
        "none"
    };
    let base_url = args
        .base_url
        .clone()
        .or_else(|| {
            std::env::var("LIME_API_BASE")
                .ok()
                .filter(|u| !u.trim().is_empty())
        })
        .unwrap_or_else(|| lime_core::settings::DEFAULT_BASE_URL.to_owned());
    let value = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "target": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        "tls_provider": lime_tls::crypto_provider_name(),
        "base_url": lime_core::settings::redact_url(&base_url),
        "token_from": token_source,
        "extra_roots": args.ca_cert.as_ref().map(|p| p.display().to_string()),
        "pow_unoptimized": lime_core::lime_pow::BUILT_UNOPTIMIZED,
    });
    let shown = |key: &str| report::escape_controls(value[key].as_str().unwrap_or("none"));
    let text = format!(
        "lime {}\n  target        {}\n  tls provider  {}\n  base url      {}\n  token from    {}\n  extra roots   {}",
        shown("version"),
        shown("target"),
        shown("tls_provider"),
        shown("base_url"),
        shown("token_from"),
        shown("extra_roots"),
    );
    report::success(json, &value, &text);
    0
}

/// Whether `lime serve` runs: a panic in one connection's handler then
/// closes that connection only.
static SERVING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Any panic, on any thread: one line on stderr and exit 70, never Rust's
/// backtrace text and exit 101, which the exit table does not list. Under
/// `lime serve`, a panic off the main thread is one connection's: logged,
/// and the runtime ends that task (and so its connection) alone.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        if what.contains("failed printing to std") && what.contains("Broken pipe") {
            // The reader went away (`lime demo | head -1`): end quietly, as a
            // process killed by SIGPIPE does.
            std::process::exit(141);
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let main_thread = std::thread::current().name() == Some("main");
        if SERVING.load(std::sync::atomic::Ordering::Relaxed) && !main_thread {
            eprintln!(
                "lime serve: a connection's handler panicked ({}{place}); that connection was closed, the server goes on",
                report::escape_controls(&what)
            );
            return;
        }
        eprintln!(
            "internal error: {}{place}; please report this at https://github.com/lime-sdk/lime/issues",
            report::escape_controls(&what)
        );
        std::process::exit(i32::from(report::Kind::Internal.exit_code()));
    }));
}

/// A command line clap refused: with `--json` anywhere in it, the JSON
/// error object on stdout (exit 2); `--help` and `--version` as usual.
fn argument_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let json = std::env::args_os().any(|a| a == "--json");
    let missing_command = error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if !json || (informational && !missing_command) {
        let _ = error.print();
        return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
    }
    // clap's whole first paragraph (what is wrong, which argument, the
    // possible values), without its "error: " prefix, usage and tips.
    let rendered = error.render().to_string();
    let message = if missing_command {
        "a subcommand is missing; --help lists them".to_owned()
    } else {
        rendered
            .split("\n\n")
            .next()
            .unwrap_or("invalid arguments")
            .trim_start_matches("error: ")
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    };
    report::failure(true, &Failure::invalid_input(message));
    ExitCode::from(Kind::InvalidInput.exit_code())
}

#[cfg(test)]
mod readme_usage {
    use clap::Parser;

    /// The words of a shell line: whitespace-separated, '…' kept whole,
    /// up to a comment, redirection or `&`.
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut rest = line.trim();
        while !rest.is_empty() {
            let (word, after) = match rest.strip_prefix('\'') {
                Some(quoted) => {
                    let end = quoted.find('\'').expect("a closed quote");
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len())),
            };
            if ["#", ">", "&"].iter().any(|stop| word.starts_with(stop)) {
                break;
            }
            words.push(word.to_owned());
            rest = after.trim_start();
        }
        words
    }

    #[test]
    fn every_command_the_crate_readme_shows_parses() {
        let readme = include_str!("../README.md");
        let lines: Vec<&str> = readme.lines().filter(|l| l.starts_with("lime ")).collect();
        assert!(lines.len() >= 10, "the usage section lists the commands");
        for line in lines {
            let words = words(line);
            if let Err(e) = crate::Cli::try_parse_from(&words) {
                panic!("README line {line:?} does not parse: {e}");
            }
        }
    }
}
