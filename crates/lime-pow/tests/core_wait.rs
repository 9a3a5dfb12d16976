//! A solve that waits for a core of the process's budget. Its own test
//! binary: it holds every core, which would stall other tests' solves.
#![forbid(unsafe_code)]

use std::time::Duration;

use lime_pow::{CancelToken, CoreLease, Scheme, SolveError, Solver};

#[test]
fn a_solve_waiting_for_a_core_ends_at_its_deadline_or_cancel_with_its_error() {
    // Hold every core of the process.
    let mut held = Vec::new();
    while held.len() < CoreLease::total() {
        match CoreLease::try_acquire() {
            Some(lease) => held.push(lease),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    let late = Solver::new()
        .timeout(Duration::from_millis(30))
        .solve(Scheme::V1, b"no-core", 20);
    assert!(matches!(late, Err(SolveError::Timeout { .. })), "{late:?}");
    let cancel = CancelToken::new();
    cancel.cancel();
    let cancelled = Solver::new()
        .cancel_token(cancel)
        .solve(Scheme::V1, b"no-core", 20);
    assert!(
        matches!(cancelled, Err(SolveError::Cancelled { .. })),
        "{cancelled:?}"
    );
    drop(held);
    assert!(Solver::new().solve(Scheme::V1, b"a core again", 14).is_ok());
}
