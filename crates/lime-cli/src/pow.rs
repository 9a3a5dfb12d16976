//! `lime pow`: solve, verify and benchmark proofs of work. These commands
//! print nonces and take challenges as input: that is their job.

use std::time::Duration;

use clap::{Args, Subcommand};
use lime_core::lime_pow::{self, CancelToken, Scheme, SolveError, Solver};
use serde_json::json;

use crate::client::{SchemeArg, difficulty, positive_seconds};
use crate::report::{self, Failure, Kind};

#[derive(Debug, Subcommand)]
pub(crate) enum PowCommand {
    /// Find a nonce and print it.
    Solve(SolveArgs),
    /// Check a nonce: exit 0 when valid, 1 when not.
    Verify(VerifyArgs),
    /// Measure hashes per second for each thread count on this machine.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PuzzleArgs {
    /// The challenge string (any text, including one that starts with `-`).
    #[arg(long, allow_hyphen_values = true)]
    challenge: String,
    /// Leading zero bits required (≤ 0 accepts any nonce; over 256 is refused).
    #[arg(long, allow_negative_numbers = true, value_parser = difficulty)]
    difficulty: i64,
    /// The scheme (v1: what current servers verify).
    #[arg(long, value_enum, default_value_t = SchemeArg::V1)]
    scheme: SchemeArg,
}

impl PuzzleArgs {
    fn check(&self) -> Result<Scheme, Failure> {
        Ok(self.scheme.into())
    }
}

#[derive(Debug, Args)]
pub(crate) struct SolveArgs {
    #[command(flatten)]
    puzzle: PuzzleArgs,
    /// Threads (0: every core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = positive_seconds, allow_negative_numbers = true)]
    timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    puzzle: PuzzleArgs,
    /// The nonce to check.
    #[arg(long, allow_hyphen_values = true)]
    nonce: String,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Seconds per thread count.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = positive_seconds, allow_negative_numbers = true)]
    seconds: Duration,
}

pub(crate) async fn run(command: PowCommand, json_mode: bool) -> Result<u8, Failure> {
    match command {
        PowCommand::Solve(args) => {
            let scheme = args.puzzle.check()?;
            // Dropping this future (Ctrl-C) stops the solve within a millisecond
            // instead of leaving it to burn the CPU until the process is killed.
            let cancel = CancelToken::new();
            let _stop_on_drop = cancel.drop_guard();
            let progress = lime_core::lime_pow::Progress::new();
            let _spinner = crate::spinner::Spinner::start(progress.clone());
            let mut solver = Solver::new()
                .threads(args.threads)
                .cancel_token(cancel)
                .progress(progress);
            if let Some(t) = args.timeout {
                solver = solver.timeout(t);
            }
            let challenge = args.puzzle.challenge.clone();
            let difficulty = args.puzzle.difficulty;
            let outcome = tokio::task::spawn_blocking(move || {
                solver.solve(scheme, challenge.as_bytes(), difficulty)
            })
            .await
            .map_err(|_| Failure::internal("the solver stopped unexpectedly"))?;
            match outcome {
                Ok(s) => {
                    report::success(
                        json_mode,
                        &json!({
                            "nonce": s.nonce.as_str(),
                            "hashes": s.hashes,
                            "elapsed_ms": s.elapsed.as_millis() as u64,
                            "threads": s.threads,
                            "scheme": scheme.as_str(),
                        }),
                        s.nonce.as_str(),
                    );
                    Ok(0)
                }
                Err(SolveError::Timeout { hashes, .. }) => {
                    let mut f = Failure::new(
                        Kind::PowTimeout,
                        format!("not solved in time ({hashes} hashes tried)"),
                    );
                    f.code = None;
                    Err(f)
                }
                Err(SolveError::Cancelled { .. }) => {
                    Err(Failure::new(Kind::Cancelled, "cancelled"))
                }
                Err(e) => Err(Failure::invalid_input(e.to_string())),
            }
        }
        PowCommand::Verify(args) => {
            let scheme = args.puzzle.check()?;
            let valid = lime_pow::verify(
                scheme,
                &args.puzzle.challenge,
                &args.nonce,
                args.puzzle.difficulty,
            );
            report::success(
                json_mode,
                &json!({ "valid": valid }),
                if valid { "valid" } else { "not valid" },
            );
            Ok(if valid { 0 } else { 1 })
        }
        PowCommand::Bench(args) => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut rates = serde_json::Map::new();
            let kernel = lime_core::lime_pow::search_kernel();
            // What the first-use timing measured for every path this crate
            // has, the chosen one marked.
            let mut kernels = Vec::new();
            let mut text =
                format!("search path: {kernel}\n\npath              ticks/hash (first-use timing)");
            for path in lime_core::lime_pow::search_kernels() {
                kernels.push(json!({
                    "name": path.name,
                    "ticks_per_hash": path.ticks_per_hash,
                    "chosen": path.chosen,
                }));
                let ticks = path
                    .ticks_per_hash
                    .map_or_else(|| "not on this CPU".to_owned(), |t| t.to_string());
                let mark = if path.chosen { "  (chosen)" } else { "" };
                text.push_str(&format!("\n{:<16}  {ticks}{mark}", path.name));
            }
            text.push_str("\n\nthreads  hashes/s");
            for threads in 1..=cores {
                let window = args.seconds;
                let outcome = tokio::task::spawn_blocking(move || {
                    Solver::new().threads(threads).timeout(window).solve(
                        Scheme::V1,
                        b"lime-bench",
                        256,
                    )
                })
                .await
                .map_err(|_| Failure::internal("the benchmark stopped unexpectedly"))?;
                if let Err(SolveError::Timeout { hashes, elapsed }) = outcome {
                    let rate = hashes as f64 / elapsed.as_secs_f64();
                    rates.insert(threads.to_string(), json!(rate.round()));
                    text.push_str(&format!("\n{threads:>7}  {:.2} M", rate / 1e6));
                }
            }
            report::success(
                json_mode,
                &json!({ "kernel": kernel, "kernels": kernels, "rates": rates }),
                &text,
            );
            Ok(0)
        }
    }
}
