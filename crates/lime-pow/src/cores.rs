//! The process-wide bound on solver threads (`std` feature): one permit per
//! core, shared by every solve in the process, so that N concurrent logins
//! never run more than about one solver thread per core in total.
#![forbid(unsafe_code)]

use std::sync::{Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::handles::CancelToken;

/// Permits of the process's solver threads: as many as the cores
/// [`std::thread::available_parallelism`] reports.
struct Budget {
    state: Mutex<Permits>,
    freed: Condvar,
    total: usize,
}

/// The budget's state under its lock.
struct Permits {
    free: usize,
    /// Threads in [`CoreLease::acquire`]'s wait: a permit given back wakes
    /// them only when there are any (a wake is a system call each time).
    waiting: usize,
}

fn budget() -> &'static Budget {
    static BUDGET: OnceLock<Budget> = OnceLock::new();
    BUDGET.get_or_init(|| {
        let total = thread::available_parallelism().map_or(1, |n| n.get());
        Budget {
            state: Mutex::new(Permits {
                free: total,
                waiting: 0,
            }),
            freed: Condvar::new(),
            total,
        }
    })
}

/// The cores this process may use, read once: on Linux each
/// `available_parallelism` call reads the cgroup files (about 20 system
/// calls), and a login must not pay that per solve.
pub(crate) fn cores() -> usize {
    budget().total
}

impl Budget {
    fn lock(&self) -> std::sync::MutexGuard<'_, Permits> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn give_back(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut permits = self.lock();
        permits.free = (permits.free + n).min(self.total);
        let waiting = permits.waiting > 0;
        drop(permits);
        if waiting {
            self.freed.notify_all();
        }
    }
}

/// Permission to run solver threads, one per permit, returned to the
/// process-wide budget when dropped. A solve needs one to start; it takes
/// more, when free, for its extra threads.
///
/// Async drivers wait for one without blocking a thread
/// ([`CoreLease::try_acquire`] in a loop with a short sleep) and hand it to
/// [`Solver::solve_leased`](crate::Solver::solve_leased); blocking callers let
/// [`Solver::solve`](crate::Solver::solve) wait.
///
/// ```
/// assert!(lime_pow::CoreLease::total() >= 1); // the process's cores
/// // `None` while other solves hold every core.
/// if let Some(lease) = lime_pow::CoreLease::try_acquire() {
///     assert_eq!(lease.permits(), 1);
/// } // dropped: the core is free again
/// ```
#[derive(Debug)]
#[must_use = "the permit goes back to the budget when the lease is dropped"]
pub struct CoreLease {
    permits: usize,
}

impl CoreLease {
    /// One permit, if one is free now.
    pub fn try_acquire() -> Option<CoreLease> {
        let mut permits = budget().lock();
        if permits.free == 0 {
            return None;
        }
        permits.free -= 1;
        Some(CoreLease { permits: 1 })
    }

    /// One permit, waiting for it until `deadline` or `cancel`; `None` when
    /// either ends the wait first.
    pub(crate) fn acquire(deadline: Option<Instant>, cancel: Option<&CancelToken>) -> Option<Self> {
        let budget = budget();
        let mut permits = budget.lock();
        loop {
            if permits.free > 0 {
                permits.free -= 1;
                return Some(CoreLease { permits: 1 });
            }
            if cancel.is_some_and(CancelToken::is_cancelled)
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                return None;
            }
            // Short slices: cancellation and the deadline are polled, not signalled.
            permits.waiting += 1;
            let (mut guard, _) = budget
                .freed
                .wait_timeout(permits, Duration::from_millis(5))
                .unwrap_or_else(|e| e.into_inner());
            guard.waiting -= 1;
            permits = guard;
        }
    }

    /// Adds up to `more` permits that are free now; returns how many it got.
    pub(crate) fn grow(&mut self, more: usize) -> usize {
        let mut permits = budget().lock();
        let got = more.min(permits.free);
        permits.free -= got;
        self.permits += got;
        got
    }

    /// Returns up to `n` permits early, always keeping one (workers that
    /// could not be spawned, or that have finished).
    pub(crate) fn shrink(&mut self, n: usize) {
        let back = n.min(self.permits - 1);
        self.permits -= back;
        budget().give_back(back);
    }

    /// Permits held: the threads this lease allows.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Every permit of the process: its core count.
    pub fn total() -> usize {
        budget().total
    }
}

impl Drop for CoreLease {
    fn drop(&mut self) {
        budget().give_back(self.permits);
    }
}
