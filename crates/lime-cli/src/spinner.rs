//! A progress line on stderr for solves longer than a moment, only when
//! stderr is a terminal: hashes tried, rate, time so far, and the expected
//! total (`2^difficulty / rate`; tries are independent, so no countdown).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use lime_core::lime_pow::Progress;
use tokio::task::JoinHandle;

/// Shown only after this long: short solves print nothing.
const QUIET_FOR: Duration = Duration::from_millis(300);
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// A running spinner. Its line is cleared when it is dropped: on success,
/// on failure, and when Ctrl-C drops the command's future.
pub(crate) struct Spinner(Option<(JoinHandle<()>, Instant)>);

impl Spinner {
    /// Starts reading `progress`, unless stderr is not a terminal.
    pub(crate) fn start(progress: Progress) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let started = Instant::now();
        let task = tokio::spawn(async move {
            tokio::time::sleep(QUIET_FOR).await;
            for frame in FRAMES.iter().cycle() {
                eprint!("\r\x1b[2K{frame} {}", line(&progress, started.elapsed()));
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Spinner(Some((task, started)))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some((task, started)) = self.0.take() {
            task.abort();
            // Nothing to clear before the first frame.
            if started.elapsed() >= QUIET_FOR {
                eprint!("\r\x1b[2K");
                let _ = std::io::stderr().flush();
            }
        }
    }
}

/// `solving difficulty 24: 3.1 M hashes at 30.2 M/s, 0.1 s so far, about
/// 0.6 s expected in all`.
fn line(progress: &Progress, elapsed: Duration) -> String {
    let hashes = progress.hashes() as f64;
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let rate = hashes / seconds;
    let difficulty = progress.difficulty();
    let what = difficulty.map_or_else(
        || "the proof of work".to_owned(),
        |d| format!("difficulty {}", d.bits()),
    );
    let mut text = format!(
        "solving {what}: {:.1} M hashes at {:.1} M/s, {seconds:.1} s so far",
        hashes / 1e6,
        rate / 1e6
    );
    if let Some(difficulty) = difficulty.filter(|_| rate > 0.0) {
        let expected = difficulty.expected_hashes() / rate;
        text.push_str(&format!(", about {} expected in all", human(expected)));
    }
    text
}

/// Seconds as a short human duration.
fn human(seconds: f64) -> String {
    match seconds {
        s if s < 60.0 => format!("{s:.1} s"),
        s if s < 3600.0 => format!("{:.1} min", s / 60.0),
        s if s < 86_400.0 * 2.0 => format!("{:.1} h", s / 3600.0),
        s if s < 86_400.0 * 365.0 * 100.0 => format!("{:.0} days", s / 86_400.0),
        _ => "centuries".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_hashes_rate_time_and_the_expected_total() {
        let progress = Progress::new();
        let quiet = line(&progress, Duration::from_secs(1));
        assert!(
            quiet.starts_with("solving the proof of work: 0.0 M hashes"),
            "{quiet}"
        );
        lime_core::lime_pow::Solver::new()
            .threads(1)
            .progress(progress.clone())
            .solve(lime_core::lime_pow::Scheme::V1, b"c", 12)
            .unwrap();
        let text = line(&progress, Duration::from_millis(500));
        assert!(text.starts_with("solving difficulty 12: "), "{text}");
        assert!(text.contains(" M/s, 0.5 s so far, about "), "{text}");
        assert!(text.ends_with(" expected in all"), "{text}");
        assert_eq!(human(5400.0), "1.5 h");
        assert_eq!(human(1e12), "centuries");
    }
}
