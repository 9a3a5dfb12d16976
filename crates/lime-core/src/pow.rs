//! The proof-of-work job a login hands its driver, and what its solves cost.

use std::fmt;
use std::time::Instant;

use lime_pow::{CancelToken, CoreLease, Progress, Scheme, Solution, SolveError, Solver};
use zeroize::Zeroizing;

/// What a solve produced: feed it to [`Login::handle_solution`](crate::Login::handle_solution).
pub type PowOutcome = Result<Solution, SolveError>;

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
