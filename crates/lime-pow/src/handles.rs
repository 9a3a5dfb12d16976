//! What other threads and tasks hold while a solve runs: a token that stops
//! it and a live count of the hashes it tried (`std` feature).
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// A handle that stops a running [`Solver::solve`](crate::Solver::solve) from another thread or an
/// async task. Clones share one flag.
///
/// ```
/// use lime_pow::{CancelToken, Scheme, SolveError, Solver};
/// let cancel = CancelToken::new();
/// cancel.cancel(); // tripped before the solve even starts
/// let err = Solver::new().cancel_token(cancel).solve(Scheme::V1, b"c", 64).unwrap_err();
/// assert!(matches!(err, SolveError::Cancelled { .. }));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that has not been tripped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every solve holding this token to stop; they return
    /// [`SolveError::Cancelled`](crate::SolveError::Cancelled) within about a millisecond.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that trips this token when dropped: a solve started for a
    /// future or a command stops when that future or command is dropped.
    ///
    /// ```
    /// let token = lime_pow::CancelToken::new();
    /// drop(token.drop_guard());
    /// assert!(token.is_cancelled());
    /// ```
    pub fn drop_guard(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Trips its [`CancelToken`] when dropped ([`CancelToken::drop_guard`]).
#[derive(Debug)]
#[must_use = "the token is tripped when the guard is dropped"]
pub struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A live count of hashes tried, readable while a solve runs, and the
/// difficulty being solved (for a progress line: rate, and the expected
/// total time `2^difficulty / rate`; tries are independent, so there is
/// no countdown). Clones share one counter.
///
/// ```
/// use lime_pow::{Progress, Scheme, Solver};
/// let progress = Progress::new();
/// let solution = Solver::new().progress(progress.clone()).solve(Scheme::V1, b"c", 8).unwrap();
/// assert_eq!(progress.hashes(), solution.hashes);
/// assert_eq!(progress.difficulty().map(|d| d.bits()), Some(8));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    hashes: AtomicU64,
    /// The difficulty's bits plus one; 0 until a solve starts.
    difficulty: AtomicU32,
}

impl Progress {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hashes tried so far (updated after every batch: at most a millisecond
    /// of one thread's work).
    pub fn hashes(&self) -> u64 {
        self.0.hashes.load(Ordering::Relaxed)
    }

    /// The difficulty of the solve running (or last run), once one started.
    pub fn difficulty(&self) -> Option<crate::Difficulty> {
        match self.0.difficulty.load(Ordering::Relaxed) {
            0 => None,
            bits => crate::Difficulty::new(i64::from(bits - 1)).ok(),
        }
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.hashes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn started(&self, difficulty: crate::Difficulty) {
        self.0
            .difficulty
            .store(difficulty.bits() + 1, Ordering::Relaxed);
    }
}
