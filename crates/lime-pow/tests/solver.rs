//! The threaded solver's limits: deadline, cancellation, unsolvable, trivial.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use lime_pow::{CancelToken, Progress, Scheme, SolveError, Solver, solve, verify};

#[test]
fn a_past_deadline_times_out_with_the_hashes_tried() {
    let err = Solver::new()
        .deadline(Instant::now())
        .solve(Scheme::V1, b"challenge", 200)
        .unwrap_err();
    assert!(
        matches!(err, SolveError::Timeout { hashes: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn a_short_timeout_on_an_impossible_difficulty_times_out_after_hashing() {
    let progress = Progress::new();
    let err = Solver::new()
        .threads(2)
        .timeout(Duration::from_millis(30))
        .progress(progress.clone())
        .solve(Scheme::Legacy, b"challenge", 256)
        .unwrap_err();
    let SolveError::Timeout { hashes, .. } = err else {
        panic!("{err:?}")
    };
    assert!(hashes > 0);
    assert_eq!(progress.hashes(), hashes);
    assert!(err.to_string().contains("not solved in time"));
}

#[test]
fn cancelling_from_another_thread_stops_every_worker() {
    let cancel = CancelToken::new();
    let progress = Progress::new();
    let solver = Solver::new()
        .threads(2)
        .cancel_token(cancel.clone())
        .progress(progress.clone());
    let handle = std::thread::spawn(move || solver.solve(Scheme::V1, b"challenge", 256));
    // Cancel once the workers have demonstrably started.
    while progress.hashes() == 0 {
        std::thread::yield_now();
    }
    cancel.cancel();
    let err = handle.join().unwrap().unwrap_err();
    let SolveError::Cancelled { hashes } = err else {
        panic!("{err:?}")
    };
    assert!(hashes > 0);
    assert!(cancel.is_cancelled());
}

#[test]
fn difficulty_above_256_is_refused_without_hashing() {
    for d in [257, 300, i64::MAX] {
        let progress = Progress::new();
        let err = Solver::new()
            .progress(progress.clone())
            .solve(Scheme::Legacy, b"c", d)
            .unwrap_err();
        assert_eq!(err, SolveError::Unsolvable { difficulty: d });
        assert_eq!(progress.hashes(), 0);
        assert!(err.to_string().contains("can never be met"));
    }
}

#[test]
fn zero_and_negative_difficulty_return_zero_without_hashing() {
    for d in [0, -1, i64::MIN] {
        let solution = solve(Scheme::V1, b"c", d).unwrap();
        assert_eq!(solution.nonce.as_str(), "0");
        assert_eq!(solution.hashes, 0);
    }
}

#[test]
fn megabyte_and_multibyte_challenges_solve() {
    let big = "é€𝄞x".repeat(100_000); // ~1 MB of multi-byte UTF-8
    for scheme in [Scheme::Legacy, Scheme::V1] {
        let solution = solve(scheme, big.as_bytes(), 12).unwrap();
        assert!(verify(scheme, &big, solution.nonce.as_str(), 12));
    }
}

#[test]
fn hashes_and_threads_are_reported() {
    let solution = Solver::new()
        .threads(2)
        .solve(Scheme::V1, b"abc", 14)
        .unwrap();
    assert!(solution.hashes >= 1);
    // Two asked; fewer when other tests' solves hold the process's cores.
    assert!((1..=2).contains(&solution.threads), "{}", solution.threads);
    assert!(verify(Scheme::V1, "abc", solution.nonce.as_str(), 14));
}

#[test]
fn a_low_difficulty_nonce_in_the_first_batch_is_found_without_starting_a_thread() {
    // At 4 bits the first 4,096 candidates miss with odds of e^-256: the
    // calling thread finds it alone, before any worker or core is taken.
    let solution = Solver::new()
        .threads(2)
        .solve(Scheme::Legacy, b"head-start", 4)
        .unwrap();
    assert_eq!(solution.threads, 1);
    assert!(solution.hashes <= 4_096, "{}", solution.hashes);
    assert!(verify(
        Scheme::Legacy,
        "head-start",
        solution.nonce.as_str(),
        4
    ));
    // Above the head start's difficulties, two asked still means two when
    // the process's cores are free (fewer when other tests hold them).
    let solution = Solver::new()
        .threads(2)
        .solve(Scheme::Legacy, b"head-start", 16)
        .unwrap();
    assert!((1..=2).contains(&solution.threads));
}

#[test]
fn a_head_start_past_its_deadline_is_a_timeout_not_a_hang() {
    let outcome = Solver::new()
        .deadline(Instant::now())
        .solve(Scheme::V1, b"late", 8);
    assert!(
        matches!(outcome, Err(SolveError::Timeout { hashes: 0, .. })),
        "{outcome:?}"
    );
}

#[test]
fn debug_output_never_shows_the_nonce() {
    let solution = Solver::new()
        .smallest()
        .solve(Scheme::Legacy, b"", 15)
        .unwrap();
    assert_eq!(solution.nonce.as_str(), "88484");
    let debug = format!("{solution:?}");
    assert!(!debug.contains("88484"), "{debug}");
    let search = lime_pow::Search::new(Scheme::Legacy, b"secret-challenge", 15).unwrap();
    assert!(!format!("{search:?}").contains("secret"));
}

#[test]
fn a_timeout_past_what_an_instant_holds_means_no_timeout() {
    let solution = Solver::new()
        .threads(1)
        .timeout(Duration::MAX)
        .solve(Scheme::V1, b"no-limit", 8)
        .unwrap();
    assert!(lime_pow::verify(
        Scheme::V1,
        "no-limit",
        solution.nonce.as_str(),
        8
    ));
}

#[test]
fn concurrent_solves_share_the_process_cores() {
    let cores = lime_pow::CoreLease::total();
    std::thread::scope(|scope| {
        for i in 0..8 {
            scope.spawn(move || {
                let challenge = format!("share-{i}");
                let solution = Solver::new()
                    .solve(Scheme::V1, challenge.as_bytes(), 16)
                    .unwrap();
                assert!(verify(Scheme::V1, &challenge, solution.nonce.as_str(), 16));
                assert!((1..=cores).contains(&solution.threads));
            });
        }
    });
}

/// A server that reads `pow_nonce` as a signed 64-bit integer, or as a
/// JSON number in a double, accepts every nonce: at most 16 digits, below
/// 2^53, at the production difficulty.
#[test]
fn nonces_fit_an_i64_and_a_double_at_the_production_difficulty() {
    for scheme in [lime_pow::Scheme::Legacy, lime_pow::Scheme::V1] {
        for len in [0usize, 16, 32, 49, 64, 100] {
            let challenge = "c".repeat(len);
            for difficulty in [8, 15] {
                let solution = lime_pow::Solver::new()
                    .threads(2)
                    .solve(scheme, challenge.as_bytes(), difficulty)
                    .unwrap();
                let nonce = solution.nonce.as_str();
                assert!(nonce.parse::<i64>().is_ok(), "{nonce} does not fit an i64");
                assert!(lime_pow::verify(scheme, &challenge, nonce, difficulty));
                if difficulty == 15 {
                    let exact = nonce.parse::<f64>().unwrap() < 2f64.powi(53);
                    assert!(nonce.len() <= 16 && exact, "{scheme} {len}: {nonce}");
                }
            }
        }
    }
}

/// One thread counts every candidate from its start to the nonce once,
/// however its batches split into runs of 10,000 (a count off by a run's
/// offset would show here: the solves below cross many runs).
#[test]
fn one_thread_counts_each_candidate_up_to_the_nonce_once() {
    for challenge in ["count-a", "count-b", "count-c"] {
        let search = lime_pow::Search::new(lime_pow::Scheme::V1, challenge.as_bytes(), 18).unwrap();
        let solution = lime_pow::Solver::new()
            .threads(1)
            .solve(lime_pow::Scheme::V1, challenge.as_bytes(), 18)
            .unwrap();
        let nonce: u64 = solution.nonce.as_str().parse().unwrap();
        assert_eq!(
            solution.hashes,
            nonce - search.fast_start() + 1,
            "{challenge}"
        );
    }
}
