//! The proof-of-work job a login hands its driver, and what its solves cost.

use std::fmt;
use std::time::Instant;

use lime_pow::{CancelToken, CoreLease, Progress, Scheme, Solution, SolveError, Solver};
use zeroize::Zeroizing;

/// What a solve produced: feed it to [`Login::handle_solution`](crate::Login::handle_solution).
pub type PowOutcome = Result<Solution, SolveError>;

/// The largest difficulty [`PowTask::is_quick`] calls quick: 256 hashes
/// expected. At most [`lime_pow::HEAD_START_MAX_DIFFICULTY`], so a quick
/// task starts no thread.
pub const QUICK_MAX_DIFFICULTY: i64 = 8;
const _: () = assert!(QUICK_MAX_DIFFICULTY <= lime_pow::HEAD_START_MAX_DIFFICULTY as i64);

/// A solve to run: owns everything it needs, so it can move to another
/// thread. `Debug` never shows the challenge.
pub struct PowTask {
    pub(crate) scheme: Scheme,
    pub(crate) challenge: Zeroizing<String>,
    pub(crate) difficulty: i64,
    pub(crate) deadline: Instant,
    pub(crate) threads: usize,
    pub(crate) cancel: CancelToken,
    pub(crate) progress: Progress,
}

impl PowTask {
    /// Solves on this thread plus `lime-pow` worker threads, until found,
    /// the deadline or cancellation. First waits (blocking this thread) for
    /// a core of the process's solver budget ([`CoreLease`]).
    pub fn run(self) -> PowOutcome {
        self.solver()
            .solve(self.scheme, self.challenge.as_bytes(), self.difficulty)
    }

    /// [`run`](Self::run) on a core already leased: an async driver waits
    /// for [`CoreLease::try_acquire`] without blocking a thread, then runs
    /// this on its blocking pool, so concurrent logins never hold more
    /// solver threads than there are cores.
    pub fn run_leased(self, lease: &mut CoreLease) -> PowOutcome {
        self.solver().solve_leased(
            lease,
            self.scheme,
            self.challenge.as_bytes(),
            self.difficulty,
        )
    }

    fn solver(&self) -> Solver {
        Solver::new()
            .threads(self.threads)
            .deadline(self.deadline)
            .cancel_token(self.cancel.clone())
            .progress(self.progress.clone())
    }

    /// The challenge, for a solver of your own (then answer with
    /// [`Login::handle_nonce`](crate::Login::handle_nonce)). It is a secret
    /// of this login: never log or display it.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The scheme being solved.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The difficulty (leading zero bits).
    pub fn difficulty(&self) -> i64 {
        self.difficulty
    }

    /// Whether the solve is too small to hand to another thread: at most
    /// [`QUICK_MAX_DIFFICULTY`] bits, a few hundred hashes expected (a few
    /// microseconds), less than the hand-off costs. An async driver runs
    /// such a task on its own thread (it still holds a core of the budget
    /// first, so the task never waits on the budget).
    pub fn is_quick(&self) -> bool {
        self.difficulty <= QUICK_MAX_DIFFICULTY
    }

    /// When the solve gives up: the PoW timeout, capped by the login deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Trip this to stop the solve (for example when the login future is dropped).
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Hashes tried so far, readable while the task runs.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }
}

impl fmt::Debug for PowTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PowTask")
            .field("scheme", &self.scheme)
            .field("difficulty", &self.difficulty)
            .field("challenge_len", &self.challenge.len())
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// What the proofs of work of one login cost, for reports and progress UIs.
///
/// With the `serde` feature it serializes with `elapsed_ms` (milliseconds)
/// and `scheme` as `"legacy"`, `"v1"` or `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PowStats {
    /// Solves run (more than one after a scheme fallback or a new challenge).
    pub solves: u32,
    /// The last difficulty solved.
    pub difficulty: i64,
    /// The last scheme solved.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_helpers::scheme")
    )]
    pub scheme: Option<Scheme>,
    /// Hashes tried over every solve.
    pub hashes: u64,
    /// Time spent solving, over every solve.
    #[cfg_attr(
        feature = "serde",
        serde(rename = "elapsed_ms", serialize_with = "crate::serde_helpers::millis")
    )]
    pub elapsed: std::time::Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_quick_up_to_eight_bits_and_then_solves_at_once() {
        #[allow(clippy::disallowed_methods)] // the solve's own deadline
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let task = |difficulty| PowTask {
            scheme: Scheme::V1,
            challenge: Zeroizing::new("quick".to_owned()),
            difficulty,
            deadline,
            threads: 2,
            cancel: CancelToken::new(),
            progress: Progress::new(),
        };
        assert!(task(0).is_quick() && task(QUICK_MAX_DIFFICULTY).is_quick());
        assert!(!task(QUICK_MAX_DIFFICULTY + 1).is_quick());
        let solution = task(QUICK_MAX_DIFFICULTY).run().unwrap();
        assert!(lime_pow::verify(
            Scheme::V1,
            "quick",
            solution.nonce.as_str(),
            8
        ));
    }
}
