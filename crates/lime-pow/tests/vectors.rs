//! The reference vectors (a copy of the shared `pow.json`).
#![forbid(unsafe_code)]

use lime_pow::{ScanOutcome, Scheme, Search, Solver, digest, verify};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    scheme: String,
    challenge: String,
    difficulty: i64,
    nonce: String,
    digest: String,
    valid: bool,
    first: bool,
}

fn vectors() -> Vec<Vector> {
    let file: File = serde_json::from_str(include_str!("data/pow.json")).expect("pow.json parses");
    assert!(file.vectors.len() >= 300, "the vector file lost entries");
    file.vectors
}

fn scheme(v: &Vector) -> Scheme {
    v.scheme.parse().expect("known scheme")
}

#[test]
fn verify_agrees_with_every_vector() {
    for v in vectors() {
        assert_eq!(
            verify(scheme(&v), &v.challenge, &v.nonce, v.difficulty),
            v.valid,
            "{} challenge {:?} difficulty {} nonce {:?}",
            v.scheme,
            v.challenge,
            v.difficulty,
            v.nonce
        );
    }
}

#[test]
fn digest_matches_every_vector() {
    for v in vectors() {
        let d = digest(scheme(&v), v.challenge.as_bytes(), v.nonce.as_bytes());
        assert_eq!(
            hex::encode(d),
            v.digest,
            "{} {:?} {:?}",
            v.scheme,
            v.challenge,
            v.nonce
        );
    }
}

#[test]
fn smallest_mode_reproduces_every_first_nonce() {
    let firsts: Vec<_> = vectors().into_iter().filter(|v| v.first).collect();
    assert!(firsts.len() >= 100);
    for v in firsts {
        let solution = Solver::new()
            .smallest()
            .solve(scheme(&v), v.challenge.as_bytes(), v.difficulty)
            .expect("solvable");
        assert_eq!(
            solution.nonce.as_str(),
            v.nonce,
            "{} {:?} difficulty {}",
            v.scheme,
            v.challenge,
            v.difficulty
        );
    }
}

#[test]
fn resumable_search_from_zero_reproduces_every_first_nonce() {
    for v in vectors().into_iter().filter(|v| v.first) {
        let search =
            Search::new(scheme(&v), v.challenge.as_bytes(), v.difficulty).expect("solvable");
        // A small budget forces many resumes across run and width boundaries.
        let mut from = 0;
        let nonce = loop {
            match search.scan(from, 37) {
                ScanOutcome::Found { nonce, tried } => {
                    assert_eq!(tried, nonce.value() - from + 1);
                    break nonce;
                }
                ScanOutcome::NotFound { next } => {
                    assert_eq!(next, from + 37);
                    from = next;
                }
                ScanOutcome::Exhausted => panic!("exhausted"),
            }
        };
        assert_eq!(nonce.as_str(), v.nonce);
    }
}

#[test]
fn invalid_vectors_are_not_found_by_smallest_mode() {
    // A `"first": false, "valid": false` nonce just below a first nonce must
    // not be what the solver returns: the solver skips it.
    for v in vectors()
        .into_iter()
        .filter(|v| !v.valid && v.difficulty <= 20 && v.difficulty > 0)
    {
        // Only canonical decimals are candidates ("+1" and "01" are not).
        let Some(n) = v
            .nonce
            .parse::<u64>()
            .ok()
            .filter(|n| n.to_string() == v.nonce)
        else {
            continue;
        };
        let search =
            Search::new(scheme(&v), v.challenge.as_bytes(), v.difficulty).expect("solvable");
        assert!(
            !matches!(search.scan(n, 1), ScanOutcome::Found { .. }),
            "{} {:?} nonce {n} is invalid",
            v.scheme,
            v.challenge
        );
    }
}
