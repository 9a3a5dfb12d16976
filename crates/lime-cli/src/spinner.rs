//! A progress line on stderr for solves longer than a moment, only when
//! stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use lime_core::lime_pow::Progress;
use tokio::task::JoinHandle;

/// Shown only after this long: short solves print nothing.
const QUIET_FOR: Duration = Duration::from_millis(300);
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// A running spinner; [`stop`](Self::stop) clears its line.
pub(crate) struct Spinner(Option<JoinHandle<()>>);

impl Spinner {
    /// Starts reading `progress`, unless stderr is not a terminal.
    pub(crate) fn start(progress: Progress) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        Spinner(Some(tokio::spawn(async move {
            let started = Instant::now();
            tokio::time::sleep(QUIET_FOR).await;
            for frame in FRAMES.iter().cycle() {
                let hashes = progress.hashes() as f64;
                let rate = hashes / started.elapsed().as_secs_f64().max(1e-3);
                eprint!(
                    "\r{frame} solving the proof of work: {:.1} M hashes, {:.1} M/s ",
                    hashes / 1e6,
                    rate / 1e6
                );
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })))
    }

    /// Stops and clears the line.
    pub(crate) fn stop(self) {
        if let Some(task) = self.0 {
            task.abort();
            eprint!("\r\x1b[2K");
        }
    }
}
