//! One solver on one shape of LIME's proof of work, for a fixed time: a
//! fresh random challenge for every solve, and the rate is solves × 2^d
//! (the expected tries per solve) over the time, so both solvers are
//! measured the same way. Every nonce found is checked with lime-pow's
//! own `verify` first.
//!
//! ```text
//! pow-compare lime|lime-each|pow-buster legacy|v1 CHALLENGE_BYTES THREADS SECONDS DIFFICULTY
//! ```
//! prints the hash rate (hashes per second) on one line.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lime_pow::Scheme;
use pow_buster::message::DecimalMessage;
use pow_buster::solver::{SOLVE_TYPE_MASK, Solver};

/// A random lower-case hex challenge of `bytes` bytes (the service's kind).
fn challenge(bytes: usize, state: &mut u64) -> Vec<u8> {
    (0..bytes)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            b"0123456789abcdef"[(*state % 16) as usize]
        })
        .collect()
}

/// The bytes hashed before the nonce (docs/protocol.md, "Proof of work").
fn prefix(scheme: Scheme, challenge: &[u8]) -> Vec<u8> {
    match scheme {
        Scheme::Legacy => challenge.to_vec(),
        _ => [b"lime:pow:v1\0".as_slice(), challenge, b"\0"].concat(),
    }
}

fn pow_buster_solve(scheme: Scheme, challenge: &[u8], difficulty: u32) -> String {
    let mask = !(!0u64 >> difficulty);
    let prefix = prefix(scheme, challenge);
    for bank in 0.. {
        let message = DecimalMessage::new(&prefix, bank).expect("a decimal message for the prefix");
        let mut solver: pow_buster::DecimalSolver = message.into();
        if let Some(nonce) = solver.solve_nonce_only::<SOLVE_TYPE_MASK>(0, mask) {
            return nonce.to_string();
        }
    }
    unreachable!("the search banks never run out")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [solver, scheme, bytes, threads, seconds, difficulty] = args.as_slice() else {
        eprintln!("usage: pow-compare lime|lime-each|pow-buster legacy|v1 BYTES THREADS SECONDS DIFFICULTY");
        std::process::exit(2);
    };
    let scheme: Scheme = scheme.parse().expect("legacy or v1");
    let bytes: usize = bytes.parse().expect("challenge bytes");
    let threads: usize = threads.parse().expect("threads");
    let window = Duration::from_secs_f64(seconds.parse().expect("seconds"));
    let difficulty: u32 = difficulty.parse().expect("difficulty");
    assert!((1..=40).contains(&difficulty), "difficulty 1 to 40");
    let solves = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let worker = |seed: u64| {
        let (solves, stop, solver) = (solves.clone(), stop.clone(), solver.clone());
        move || {
            let mut state = seed | 1;
            while !stop.load(Ordering::Relaxed) {
                let challenge = challenge(bytes, &mut state);
                let nonce = match solver.as_str() {
                    // `lime` spreads one solve over its threads (one login's
                    // way); `lime-each` solves one challenge per thread, as
                    // concurrent logins share the cores.
                    "lime" | "lime-each" => lime_pow::Solver::new()
                        .threads(if solver == "lime" { threads } else { 1 })
                        .solve(scheme, &challenge, i64::from(difficulty))
                        .expect("lime solves")
                        .nonce
                        .as_str()
                        .to_owned(),
                    _ => pow_buster_solve(scheme, &challenge, difficulty),
                };
                assert!(
                    lime_pow::verify_bytes(scheme, &challenge, nonce.as_bytes(), i64::from(difficulty)),
                    "{solver} found {nonce}, which LIME refuses"
                );
                solves.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    // pow-buster and `lime-each` solve one challenge per thread; `lime` one
    // over all threads.
    let workers = if solver == "lime" { 1 } else { threads };
    let handles: Vec<_> = (0..workers as u64)
        .map(|i| std::thread::spawn(worker(0x9E37_79B9_7F4A_7C15 ^ (i + 1) ^ start.elapsed().as_nanos() as u64)))
        .collect();
    std::thread::sleep(window);
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().expect("a solver thread");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = solves.load(Ordering::Relaxed);
    println!("{}", done as f64 * 2f64.powi(difficulty as i32) / elapsed);
}
