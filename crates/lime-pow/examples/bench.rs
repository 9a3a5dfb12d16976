//! Hash rates of the naive loop, the portable midstate search, the solver
//! (the fastest path this CPU has: the SHA-extensions kernel on x86-64) and
//! the raw SHA-256 block function, on one thread and on all threads, printed as a markdown table.
//!
//! ```text
//! cargo run --release -p lime-pow --example bench [-- --seconds S]
//! ```
#![allow(missing_docs, clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use lime_pow::{Scheme, SolveError, Solver};
use sha2::{Digest, Sha256};

/// The difficulty the rates are measured at: the nonce width a search
/// chooses follows it, and at an unreachable one a 45-byte `v1` prefix no
/// longer leaves room for the nonce in one block (two compressions per
/// try, which no real login pays).
const DIFFICULTY: i64 = 24;

/// Each search path's single-thread rate on a 32-byte v1 challenge, from
/// the start it prefers, beside what the first-use timing measured.
fn kernel_rates(window: Duration) {
    println!("| kernel | chosen | first-use timing | 1T, v1, 32 B | 1T, legacy, 64 B |");
    println!("|---|---|---|---|---|");
    for path in lime_pow::search_kernels() {
        let Some(ticks) = path.ticks_per_hash else {
            println!("| {} | | not on this CPU | | |", path.name);
            continue;
        };
        let rate = |scheme, challenge: &[u8]| {
            let search = lime_pow::Search::new(scheme, challenge, DIFFICULTY).unwrap();
            let mut from = search.fast_start_on(path.id);
            let (start, mut hashes) = (Instant::now(), 0);
            while start.elapsed() < window {
                let outcome = search.scan_on(path.id, from, 100_000);
                let tried = tried(black_box(outcome), from, 100_000);
                from += tried;
                hashes += tried;
            }
            hashes as f64 / start.elapsed().as_secs_f64() / 1e6
        };
        println!(
            "| {} | {} | {ticks} ticks/hash | {:.2} M/s | {:.2} M/s |",
            path.name,
            if path.chosen { "yes" } else { "" },
            rate(Scheme::V1, &[b'c'; 32]),
            rate(Scheme::Legacy, &[b'c'; 64]),
        );
    }
    println!();
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .map_or(1.0, |s| s.parse().expect("--seconds takes a number"));
    let window = Duration::from_secs_f64(seconds);
    let cores = thread::available_parallelism().map_or(1, |n| n.get());

    println!("Search kernel: {}\n", lime_pow::search_kernel());
    kernel_rates(window);
    let raw = raw_block_rate(window);
    println!(
        "Raw `compress256`, one block per call, single stream: {:.2} M blocks/s\n",
        raw / 1e6
    );
    println!(
        "| scheme | challenge | naive 1T | naive {cores}T | portable 1T | solver 1T | solver {cores}T | portable 1T / raw | solver 1T / raw | {cores}T / 1T | solver / naive ({cores}T) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for scheme in [Scheme::Legacy, Scheme::V1] {
        for len in [32, 64] {
            let challenge = "c".repeat(len);
            let naive1 = naive_rate(scheme, &challenge, 1, window);
            let naive_n = naive_rate(scheme, &challenge, cores, window);
            let portable1 = portable_rate(scheme, &challenge, window);
            let solver1 = solver_rate(scheme, &challenge, 1, window);
            let solver_n = solver_rate(scheme, &challenge, cores, window);
            println!(
                "| {scheme} | {len} B | {:.2} M/s | {:.2} M/s | {:.2} M/s | {:.2} M/s | {:.2} M/s | {:.2}× | {:.2}× | {:.2}× | {:.1}× |",
                naive1 / 1e6,
                naive_n / 1e6,
                portable1 / 1e6,
                solver1 / 1e6,
                solver_n / 1e6,
                portable1 / raw,
                solver1 / raw,
                solver_n / solver1,
                solver_n / naive_n,
            );
        }
    }

    // The goal: difficulty 24 (16.8 M hashes expected) well under a second.
    let solves = 10;
    let mut times = Vec::new();
    let mut hashes = 0;
    for i in 0..solves {
        let challenge = format!("{i:032x}");
        let solution = Solver::new()
            .solve(Scheme::V1, challenge.as_bytes(), 24)
            .expect("difficulty 24 solves");
        hashes += solution.hashes;
        times.push(solution.elapsed.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "\nDifficulty 24, v1, {cores} threads, {solves} challenges: mean {:.3} s, median {:.3} s, max {:.3} s ({:.1} M hashes/solve)",
        times.iter().sum::<f64>() / solves as f64,
        times[solves / 2],
        times[solves - 1],
        hashes as f64 / solves as f64 / 1e6
    );
}

/// One `compress256` call per block, each depending on the last.
fn raw_block_rate(window: Duration) -> f64 {
    let mut state = [0x6a09_e667u32; 8];
    let block = [[0x5au8; 64]];
    let start = Instant::now();
    let mut blocks = 0u64;
    while start.elapsed() < window {
        for _ in 0..10_000 {
            sha2::block_api::compress256(&mut state, black_box(&block));
        }
        blocks += 10_000;
    }
    black_box(state);
    blocks as f64 / start.elapsed().as_secs_f64()
}

/// `Sha256::digest(format!(…))` per try, the way a first solver is written.
fn naive_rate(scheme: Scheme, challenge: &str, threads: usize, window: Duration) -> f64 {
    let start = Instant::now();
    let total: u64 = thread::scope(|s| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                s.spawn(move || {
                    let mut tried = 0u64;
                    let mut nonce = t << 40;
                    while start.elapsed() < window {
                        for _ in 0..1_000 {
                            let (before, after) = scheme.framing();
                            let mut message = before.to_vec();
                            message.extend_from_slice(challenge.as_bytes());
                            message.extend_from_slice(after);
                            message.extend_from_slice(nonce.to_string().as_bytes());
                            let digest = Sha256::digest(&message);
                            black_box(lime_pow::leading_zero_bits(&digest) >= 256);
                            nonce += 1;
                        }
                        tried += 1_000;
                    }
                    tried
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

/// The candidates a scan of `count` from `from` tried (a find ends it early).
fn tried(outcome: Option<lime_pow::ScanOutcome>, from: u64, count: u64) -> u64 {
    match outcome {
        Some(lime_pow::ScanOutcome::Found { tried, .. }) => tried,
        Some(lime_pow::ScanOutcome::NotFound { next }) => next - from,
        _ => count,
    }
}

/// The portable midstate search alone (one `compress256` per try), one thread.
fn portable_rate(scheme: Scheme, challenge: &str, window: Duration) -> f64 {
    let search =
        lime_pow::Search::new(scheme, challenge.as_bytes(), DIFFICULTY).expect("searchable");
    let start = Instant::now();
    let mut from = search.fast_start();
    let mut hashes = 0u64;
    while start.elapsed() < window {
        let tried = tried(Some(search.scan_portable(from, 100_000)), from, 100_000);
        from += tried;
        hashes += tried;
    }
    hashes as f64 / start.elapsed().as_secs_f64()
}

/// The real solver (the fastest path this CPU has) solving challenges of
/// `challenge`'s length at [`DIFFICULTY`] for `window`: the hashes it
/// tried per second.
fn solver_rate(scheme: Scheme, challenge: &str, threads: usize, window: Duration) -> f64 {
    let start = Instant::now();
    let mut hashes = 0;
    for round in 0u32.. {
        let left = window.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let fresh = format!("{}{round:08x}", &challenge[8..]);
        match Solver::new().threads(threads).timeout(left).solve(
            scheme,
            fresh.as_bytes(),
            DIFFICULTY,
        ) {
            Ok(solution) => hashes += solution.hashes,
            Err(SolveError::Timeout { hashes: tried, .. }) => hashes += tried,
            Err(other) => panic!("a solve failed: {other}"),
        }
    }
    hashes as f64 / start.elapsed().as_secs_f64()
}
