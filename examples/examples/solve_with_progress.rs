//! Solves one challenge on every core while another thread reports progress,
//! then cancels a second, hopeless solve: the `lime-pow` API an embedder uses.
//!
//! ```text
//! cargo run --release -p lime-examples --example solve_with_progress [DIFFICULTY]
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use lime_pow::{CancelToken, Difficulty, Progress, Scheme, SolveError, Solver, verify};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let difficulty: i64 = std::env::args().nth(1).map_or(Ok(22), |d| d.parse())?;
    let expected = Difficulty::new(difficulty)?.expected_hashes();
    let challenge = "a34a723e239648bc750a4d559313c5a1";

    let progress = Progress::new();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let reporter = {
        let progress = progress.clone();
        thread::spawn(move || {
            // Ticks every 100 ms until the sender is dropped (the solve ended).
            while done_rx.recv_timeout(Duration::from_millis(100))
                == Err(mpsc::RecvTimeoutError::Timeout)
            {
                let tried = progress.hashes() as f64;
                println!(
                    "  {:>6.1} M hashes ({:.0}% of expected)",
                    tried / 1e6,
                    100.0 * tried / expected
                );
            }
        })
    };
    let solution = Solver::new()
        .timeout(Duration::from_secs(30))
        .progress(progress)
        .solve(Scheme::V1, challenge.as_bytes(), difficulty)?;
    drop(done_tx);
    reporter.join().expect("reporter thread");
    assert!(verify(
        Scheme::V1,
        challenge,
        solution.nonce.as_str(),
        difficulty
    ));
    println!(
        "solved difficulty {difficulty}: {} hashes in {:.3} s on {} threads ({:.1} M/s)",
        solution.hashes,
        solution.elapsed.as_secs_f64(),
        solution.threads,
        solution.hashes as f64 / solution.elapsed.as_secs_f64() / 1e6
    );

    // A solve that would take forever, cancelled from another thread.
    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            cancel.cancel();
        })
    };
    match Solver::new()
        .cancel_token(cancel)
        .solve(Scheme::V1, challenge.as_bytes(), 200)
    {
        Err(SolveError::Cancelled { hashes }) => {
            println!("cancelled a difficulty-200 solve after {hashes} hashes")
        }
        other => return Err(format!("expected cancellation, got {other:?}").into()),
    }
    canceller.join().expect("canceller thread");
    Ok(())
}
