//! The multi-threaded solver (`std` feature): threads, deadline, cancellation
//! and progress around the clock-free [`Search`].
#![forbid(unsafe_code)]

use core::ops::{Range, RangeInclusive};
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{fmt, thread, vec};

use crate::handles::{CancelToken, Progress};
use crate::search::MAX_RUN;
use crate::{CoreLease, Nonce, ScanOutcome, Scheme, Search, Unsolvable};

/// Candidates in a thread's first batch. Between batches a thread looks at
/// the stop flag, the deadline and the cancel token and adds to the
/// progress counter; it then sizes its batches so each takes
/// [`BATCH_TIME`] on the kernel this CPU runs (from 4 M hashes/s for the
/// portable path in software to 60 M/s and more for the wide kernels).
const FIRST_BATCH: u64 = 4_096;
/// The fewest and the most candidates in a batch.
const BATCH_SIZES: RangeInclusive<u64> = 256..=(1 << 18);
/// How long a batch should take: never more than a millisecond, so cancel,
/// deadline and progress answer within one, and long enough that the looks
/// between batches cost nothing.
const BATCH_TIME: Range<Duration> = Duration::from_micros(250)..Duration::from_millis(1);
/// Up to this difficulty the calling thread scans its first batch
/// (4,096 candidates, tens of microseconds on the fast kernels)
/// alone, before it takes a core of the budget or starts a worker: that
/// batch holds the nonce 63% of the time at 12 bits and 98% at 10, and
/// starting and joining a thread costs more than the batch. Above it, the
/// other cores would idle for nothing.
pub const HEAD_START_MAX_DIFFICULTY: u32 = 12;
// The doc above states the first batch's size and odds in prose (a public
// doc cannot name the private constant): they hold while the batch is
// 2^cap tries, and a change to either stops the build here.
const _: () = assert!(FIRST_BATCH == 1 << HEAD_START_MAX_DIFFICULTY);

/// A found nonce and what finding it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solution {
    /// The valid nonce (a canonical decimal).
    pub nonce: Nonce,
    /// Hashes tried, over all threads.
    pub hashes: u64,
    /// Wall time spent.
    pub elapsed: Duration,
    /// Threads that searched (fewer than asked when other solves held the
    /// process's cores, see [`CoreLease`]).
    pub threads: usize,
}

/// Why [`Solver::solve`] returned without a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SolveError {
    /// The deadline passed first.
    Timeout {
        /// Hashes tried before giving up.
        hashes: u64,
        /// Wall time spent.
        elapsed: Duration,
    },
    /// The [`CancelToken`] was tripped.
    Cancelled {
        /// Hashes tried before stopping.
        hashes: u64,
    },
    /// The difficulty can never be met (over 256 bits), or, in theory, the
    /// whole nonce space was tried. Refused before any hashing.
    Unsolvable {
        /// The difficulty that was asked for.
        difficulty: i64,
    },
    /// A solver thread panicked (a bug in lime-pow); the other threads were
    /// stopped at once.
    WorkerPanicked {
        /// Hashes tried before stopping.
        hashes: u64,
    },
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolveError::Timeout { hashes, elapsed } => write!(
                f,
                "proof of work not solved in time ({hashes} hashes in {:.3} s)",
                elapsed.as_secs_f64()
            ),
            SolveError::Cancelled { hashes } => {
                write!(f, "proof of work cancelled after {hashes} hashes")
            }
            SolveError::Unsolvable { difficulty } => Unsolvable {
                difficulty: *difficulty,
            }
            .fmt(f),
            SolveError::WorkerPanicked { hashes } => write!(
                f,
                "a proof-of-work thread panicked after {hashes} hashes (a bug in lime-pow; please report it)"
            ),
        }
    }
}

impl std::error::Error for SolveError {}

impl From<Unsolvable> for SolveError {
    fn from(e: Unsolvable) -> Self {
        SolveError::Unsolvable {
            difficulty: e.difficulty,
        }
    }
}

/// Options for a multi-threaded solve. Defaults: every core, no deadline,
/// no cancellation, fastest (not smallest) nonce.
///
/// ```
/// use std::time::Duration;
/// use lime_pow::{verify, Scheme, Solver};
/// let solution = Solver::new()
///     .threads(2)
///     .timeout(Duration::from_secs(10))
///     .solve(Scheme::V1, b"3f1c0d", 12)?;
/// assert!(verify(Scheme::V1, "3f1c0d", solution.nonce.as_str(), 12));
/// # Ok::<(), lime_pow::SolveError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Solver {
    threads: Option<NonZeroUsize>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    cancel: Option<CancelToken>,
    progress: Option<Progress>,
    smallest: bool,
}

impl Solver {
    /// A solver with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Searches on `n` threads; `0` means one per available core (the default).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = NonZeroUsize::new(n);
        self
    }

    /// Gives up with [`SolveError::Timeout`] at `deadline`.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Gives up with [`SolveError::Timeout`] `timeout` after the solve starts
    /// (the earlier of this and [`deadline`](Self::deadline) wins).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Stops with [`SolveError::Cancelled`] when `token` is tripped.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Counts hashes into `progress` as the solve runs.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Deterministic mode: one thread counting from 0, so the result is the
    /// smallest valid nonce (what the reference vectors mark `"first"`).
    pub fn smallest(mut self) -> Self {
        self.smallest = true;
        self
    }

    /// Finds a nonce for `challenge` at `difficulty` under `scheme`.
    ///
    /// `difficulty <= 0` returns `"0"` without hashing; `difficulty > 256`
    /// returns [`SolveError::Unsolvable`] at once.
    ///
    /// Every solve in the process shares one budget of solver threads, one
    /// per core ([`CoreLease`]): this waits for a free core (until the
    /// deadline or cancellation), then runs on as many of the asked threads
    /// as are free.
    ///
    /// # Errors
    /// [`SolveError::Timeout`], [`SolveError::Cancelled`],
    /// [`SolveError::Unsolvable`] or [`SolveError::WorkerPanicked`].
    pub fn solve(
        &self,
        scheme: Scheme,
        challenge: &[u8],
        difficulty: i64,
    ) -> Result<Solution, SolveError> {
        self.run(None, scheme, challenge, difficulty)
    }

    /// [`solve`](Self::solve) on a core already leased (an async driver
    /// waited for it without blocking a thread). Extra cores the solve took
    /// are back in the budget when it returns; the lease's own core returns
    /// when the caller drops it (after its thread is idle again, so a pool
    /// of threads never grows past the cores).
    ///
    /// # Errors
    /// As [`solve`](Self::solve).
    pub fn solve_leased(
        &self,
        lease: &mut CoreLease,
        scheme: Scheme,
        challenge: &[u8],
        difficulty: i64,
    ) -> Result<Solution, SolveError> {
        self.run(Some(lease), scheme, challenge, difficulty)
    }

    fn run(
        &self,
        lease: Option<&mut CoreLease>,
        scheme: Scheme,
        challenge: &[u8],
        difficulty: i64,
    ) -> Result<Solution, SolveError> {
        let started = Instant::now();
        warn_if_unoptimized();
        let search = Search::new(scheme, challenge, difficulty)?;
        if let Some(progress) = &self.progress {
            progress.started(search.difficulty());
        }
        let wanted = if self.smallest {
            1
        } else {
            self.threads
                .map_or_else(crate::cores::cores, NonZeroUsize::get)
        };
        if search.difficulty().bits() == 0 {
            return Ok(Solution {
                nonce: Nonce::from_value(0),
                hashes: 0,
                elapsed: started.elapsed(),
                threads: 0,
            });
        }
        // A timeout past what `Instant` can hold (`Duration::MAX`) is none.
        let after_timeout = self.timeout.and_then(|t| started.checked_add(t));
        let deadline = match (self.deadline, after_timeout) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        };
        let start = if self.smallest {
            0
        } else {
            search.fast_start()
        };
        #[cfg(test)]
        let fail_worker = challenge == tests::PANIC_SEAM;
        #[cfg(not(test))]
        let fail_worker = false;
        let run = Run {
            search: &search,
            start,
            next: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            found: Mutex::new(None),
            hashes: self.progress.clone().unwrap_or_default(),
            hashes_before: self.progress.as_ref().map_or(0, Progress::hashes),
            deadline,
            cancel: self.cancel.as_ref(),
            fail_worker,
        };
        let head_start = search.difficulty().bits() <= HEAD_START_MAX_DIFFICULTY;
        if let Some(end) = head_start.then(|| run.head_start()).flatten() {
            return run.outcome(&[end], 1, started);
        }
        let mut own = None;
        let lease = match lease {
            Some(lease) => lease,
            None => match CoreLease::acquire(deadline, self.cancel.as_ref()) {
                Some(lease) => own.insert(lease),
                None => {
                    let cancelled = self.cancel.as_ref().is_some_and(CancelToken::is_cancelled);
                    let end = if cancelled {
                        End::Cancelled
                    } else {
                        End::Timeout
                    };
                    return run.outcome(&[end], 0, started);
                }
            },
        };
        lease.grow(wanted.saturating_sub(1));
        let ends: Vec<End> = thread::scope(|scope| {
            let mut workers = Vec::new();
            for _ in 1..lease.permits() {
                let spawned = thread::Builder::new()
                    .name("lime-pow".into())
                    .spawn_scoped(scope, || run.guarded_work());
                match spawned {
                    Ok(worker) => workers.push(worker),
                    // Fewer threads, never a panic: the search goes on.
                    Err(_) => lease.shrink(1),
                }
            }
            let mut ends = vec![run.guarded_work()];
            ends.extend(
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap_or(End::Panicked)),
            );
            ends
        });
        // Every worker is joined: the extra cores go back at once.
        let threads = lease.permits();
        lease.shrink(threads - 1);
        drop(own);
        run.outcome(&ends, threads, started)
    }
}

/// Finds a nonce with the default [`Solver`]: every core, no deadline.
///
/// ```
/// let solution = lime_pow::solve(lime_pow::Scheme::Legacy, b"abc", 10).unwrap();
/// assert!(lime_pow::verify(lime_pow::Scheme::Legacy, "abc", solution.nonce.as_str(), 10));
/// ```
///
/// # Errors
/// [`SolveError::Unsolvable`] when `difficulty > 256`.
pub fn solve(scheme: Scheme, challenge: &[u8], difficulty: i64) -> Result<Solution, SolveError> {
    Solver::new().solve(scheme, challenge, difficulty)
}

/// Shared state of one solve across its threads.
struct Run<'a> {
    search: &'a Search,
    start: u64,
    /// The offset from `start` of the first candidate no thread has taken.
    next: AtomicU64,
    stop: AtomicBool,
    found: Mutex<Option<Nonce>>,
    hashes: Progress,
    hashes_before: u64,
    deadline: Option<Instant>,
    cancel: Option<&'a CancelToken>,
    /// Tests only: every worker panics, to prove the others stop.
    fail_worker: bool,
}

/// The size of a thread's next batch after one of `size` took `took`:
/// doubled while batches are quicker than [`BATCH_TIME`], halved while slower.
fn next_batch_size(size: u64, took: Duration) -> u64 {
    let size = if took < BATCH_TIME.start {
        size * 2
    } else if took >= BATCH_TIME.end {
        size / 2
    } else {
        size
    };
    size.clamp(*BATCH_SIZES.start(), *BATCH_SIZES.end())
}

/// Why a worker stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Found,
    Stopped,
    Timeout,
    Cancelled,
    Exhausted,
    Panicked,
}

impl Run<'_> {
    /// [`work`](Self::work), turning a panic into a stop of every worker.
    fn guarded_work(&self) -> End {
        catch_unwind(AssertUnwindSafe(|| self.work())).unwrap_or_else(|_| self.halt(End::Panicked))
    }

    fn work(&self) -> End {
        let mut size = FIRST_BATCH;
        let mut began = Instant::now();
        loop {
            if let Err(end) = self.batch(size, began) {
                return end;
            }
            let now = Instant::now();
            size = next_batch_size(size, now - began);
            began = now;
        }
    }

    /// The calling thread's first batch, before any worker starts (see
    /// [`HEAD_START_MAX_DIFFICULTY`]): `Some` when it ended the search.
    fn head_start(&self) -> Option<End> {
        let batch = catch_unwind(AssertUnwindSafe(|| self.batch(FIRST_BATCH, Instant::now())));
        batch
            .unwrap_or_else(|_| Err(self.halt(End::Panicked)))
            .err()
    }

    /// The looks (stop flag, cancel token, deadline as of `now`), then the
    /// next `size` candidates; `Err` when this thread's search is over.
    fn batch(&self, size: u64, now: Instant) -> Result<(), End> {
        if self.fail_worker && self.next.load(Ordering::Relaxed) > 8 * FIRST_BATCH {
            panic!("lime-pow test seam: a worker panics");
        }
        if self.stop.load(Ordering::Relaxed) {
            return Err(End::Stopped);
        }
        if self.cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(self.halt(End::Cancelled));
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return Err(self.halt(End::Timeout));
        }
        let offset = self.next.fetch_add(size, Ordering::Relaxed);
        let Some(from) = self.start.checked_add(offset) else {
            return Err(self.halt(End::Exhausted));
        };
        match self.scan_batch(from, size) {
            ScanOutcome::Found { nonce, tried } => {
                self.hashes.add(tried);
                let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
                found.get_or_insert(nonce);
                Err(self.halt(End::Found))
            }
            ScanOutcome::NotFound { next } => {
                self.hashes.add(next - from);
                Ok(())
            }
            ScanOutcome::Exhausted => {
                self.hashes.add(u64::MAX - from);
                Err(self.halt(End::Exhausted))
            }
        }
    }

    /// Scans `from..from + count` a run at a time (the up to 10,000
    /// values that share their high digits, one set-up each anyway),
    /// looking at the stop flag between runs: a worker stops within a run
    /// of another's find, not at the end of its batch. (At batch ends, the
    /// finder waited on the others' remaining batches: about 4% of a
    /// two-thread solve at difficulty 20, and the others' hashes wasted.)
    fn scan_batch(&self, from: u64, count: u64) -> ScanOutcome {
        let end = from.saturating_add(count);
        let mut at = from;
        loop {
            let run_end = (at - at % MAX_RUN).saturating_add(MAX_RUN).min(end);
            match self.search.scan(at, run_end - at) {
                ScanOutcome::NotFound { next } if next < end => {
                    if self.stop.load(Ordering::Relaxed) {
                        return ScanOutcome::NotFound { next };
                    }
                    at = next;
                }
                ScanOutcome::Found { nonce, tried } => {
                    let tried = tried + (at - from);
                    return ScanOutcome::Found { nonce, tried };
                }
                outcome => return outcome,
            }
        }
    }

    /// The solve's result once every thread has ended (each hash counted,
    /// any find stored), `threads` having searched since `started`.
    fn outcome(
        &self,
        ends: &[End],
        threads: usize,
        started: Instant,
    ) -> Result<Solution, SolveError> {
        let hashes = self.hashes.hashes() - self.hashes_before;
        let elapsed = started.elapsed();
        if let Some(nonce) = *self.found.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(Solution {
                nonce,
                hashes,
                elapsed,
                threads,
            });
        }
        let ended = |why: End| ends.contains(&why);
        if ended(End::Panicked) {
            Err(SolveError::WorkerPanicked { hashes })
        } else if ended(End::Cancelled) {
            Err(SolveError::Cancelled { hashes })
        } else if ended(End::Exhausted) {
            Err(SolveError::Unsolvable {
                difficulty: self.search.difficulty().bits().into(),
            })
        } else {
            Err(SolveError::Timeout { hashes, elapsed })
        }
    }

    fn halt(&self, why: End) -> End {
        self.stop.store(true, Ordering::Relaxed);
        why
    }
}

/// One WARN per process, at the first solve of an unoptimized build.
fn warn_if_unoptimized() {
    #[cfg(all(feature = "tracing", lime_pow_unoptimized))]
    {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| tracing::warn!(target: "lime", "{}", crate::UNOPTIMIZED_FIX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The challenge that makes workers panic in test builds.
    pub(super) const PANIC_SEAM: &[u8] = b"lime-pow: panic in a worker";

    #[test]
    fn batches_grow_while_quick_and_shrink_while_slow_within_their_bounds() {
        let quick = Duration::from_micros(100);
        let right = Duration::from_micros(500);
        let slow = Duration::from_millis(3);
        assert_eq!(next_batch_size(FIRST_BATCH, quick), 2 * FIRST_BATCH);
        assert_eq!(next_batch_size(FIRST_BATCH, right), FIRST_BATCH);
        assert_eq!(next_batch_size(FIRST_BATCH, slow), FIRST_BATCH / 2);
        assert_eq!(
            next_batch_size(FIRST_BATCH, BATCH_TIME.end),
            FIRST_BATCH / 2
        );
        // A kernel at any rate settles inside the bounds.
        let (mut fast, mut stalled) = (FIRST_BATCH, FIRST_BATCH);
        for _ in 0..64 {
            fast = next_batch_size(fast, quick);
            stalled = next_batch_size(stalled, slow);
        }
        assert_eq!((fast, stalled), (*BATCH_SIZES.end(), *BATCH_SIZES.start()));
    }

    #[test]
    fn a_worker_panic_stops_every_worker_and_is_its_own_error() {
        // At an impossible-in-practice difficulty, only the panic can end
        // the solve: its return proves the other workers stopped.
        let outcome = Solver::new().threads(2).solve(Scheme::V1, PANIC_SEAM, 250);
        assert!(
            matches!(outcome, Err(SolveError::WorkerPanicked { .. })),
            "{outcome:?}"
        );
        // The permits came back: a later solve still gets a core.
        assert!(Solver::new().solve(Scheme::V1, b"after", 4).is_ok());
    }
}
