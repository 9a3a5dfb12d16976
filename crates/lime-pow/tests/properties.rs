//! Property tests: the fast paths agree with plain whole-message hashing.
#![forbid(unsafe_code)]

use lime_pow::{ScanOutcome, Scheme, Search, Solver, leading_zero_bits, verify_bytes};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// The reference rule written out plainly: hash the whole message, count zeros.
fn reference_valid(scheme: Scheme, challenge: &[u8], nonce: &[u8], difficulty: i64) -> bool {
    if difficulty <= 0 {
        return true;
    }
    if difficulty > 256 {
        return false;
    }
    let mut message = Vec::new();
    if scheme == Scheme::V1 {
        message.extend_from_slice(b"lime:pow:v1\0");
    }
    message.extend_from_slice(challenge);
    if scheme == Scheme::V1 {
        message.push(0);
    }
    message.extend_from_slice(nonce);
    let digest = Sha256::digest(&message);
    // Big-endian integer below 2^(256 - d)  <=>  at least d leading zero bits.
    leading_zeros_by_shifting(&digest) >= difficulty as u32
}

/// Leading zeros counted bit by bit, independent of `leading_zero_bits`.
fn leading_zeros_by_shifting(digest: &[u8]) -> u32 {
    let mut n = 0;
    for bit in 0..digest.len() * 8 {
        if digest[bit / 8] & (0x80 >> (bit % 8)) != 0 {
            break;
        }
        n += 1;
    }
    n
}

fn any_scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![Just(Scheme::Legacy), Just(Scheme::V1)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn solve_then_verify_round_trips(
        scheme in any_scheme(),
        challenge in proptest::collection::vec(any::<u8>(), 0..300),
        difficulty in 0i64..=16,
    ) {
        let solution = Solver::new().threads(2).solve(scheme, &challenge, difficulty).unwrap();
        prop_assert!(verify_bytes(scheme, &challenge, solution.nonce.as_bytes(), difficulty));
        prop_assert!(reference_valid(scheme, &challenge, solution.nonce.as_bytes(), difficulty));
        // Canonical decimal: digits only, no leading zero.
        let s = solution.nonce.as_str();
        prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
        prop_assert!(s == "0" || !s.starts_with('0'));
        prop_assert_eq!(s.parse::<u64>().unwrap().to_string(), s);
    }

    #[test]
    fn verify_agrees_with_the_reference_rule(
        scheme in any_scheme(),
        challenge in proptest::collection::vec(any::<u8>(), 0..200),
        nonce in proptest::collection::vec(any::<u8>(), 0..30),
        difficulty in -5i64..=260,
    ) {
        prop_assert_eq!(
            verify_bytes(scheme, &challenge, &nonce, difficulty),
            reference_valid(scheme, &challenge, &nonce, difficulty)
        );
    }

    #[test]
    fn low_difficulties_agree_with_the_reference_rule(
        scheme in any_scheme(),
        challenge in proptest::collection::vec(any::<u8>(), 0..100),
        nonce in 0u64..1_000_000,
        difficulty in 1i64..=6,
    ) {
        // Most random inputs fail at high difficulty; low ones exercise `true`.
        let nonce = nonce.to_string();
        prop_assert_eq!(
            verify_bytes(scheme, &challenge, nonce.as_bytes(), difficulty),
            reference_valid(scheme, &challenge, nonce.as_bytes(), difficulty)
        );
    }

    #[test]
    fn search_finds_exactly_the_reference_valid_nonces(
        scheme in any_scheme(),
        challenge in proptest::collection::vec(any::<u8>(), 0..200),
        start in prop_oneof![0u64..100_000, 999_990u64..1_000_010, (u64::MAX - 100_000)..(u64::MAX - 1)],
        difficulty in 1i64..=4,
    ) {
        // Whatever the alignment, the midstate search agrees with hashing
        // whole messages: the first valid nonce from `start` is the same.
        let search = Search::new(scheme, &challenge, difficulty).unwrap();
        let expected = (start..start.saturating_add(300))
            .find(|n| reference_valid(scheme, &challenge, n.to_string().as_bytes(), difficulty));
        match search.scan(start, 300) {
            ScanOutcome::Found { nonce, tried } => {
                prop_assert_eq!(Some(nonce.value()), expected);
                prop_assert_eq!(tried, nonce.value() - start + 1);
            }
            ScanOutcome::NotFound { .. } | ScanOutcome::Exhausted => prop_assert_eq!(expected, None),
        }
    }
}

/// For every prefix length 0–200, at widths that need one and two blocks per
/// try, the search's first hit equals whole-message hashing's.
#[test]
fn midstate_search_agrees_with_whole_message_hashing_for_every_prefix_length() {
    let widths: [u64; 6] = [
        0,
        95,
        9_990,
        123_456_780,
        1_000_000_000_000_000,
        12_345_678_901_234_567_890,
    ];
    for scheme in [Scheme::Legacy, Scheme::V1] {
        for len in 0..=200usize {
            let challenge: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let search = Search::new(scheme, &challenge, 3).unwrap();
            for &start in &widths {
                let expected = (start..start + 120)
                    .find(|n| reference_valid(scheme, &challenge, n.to_string().as_bytes(), 3));
                let got = match search.scan(start, 120) {
                    ScanOutcome::Found { nonce, .. } => Some(nonce.value()),
                    _ => None,
                };
                assert_eq!(got, expected, "{scheme} prefix {len} from {start}");
            }
        }
    }
}

#[test]
fn leading_zero_bits_counts_across_bytes() {
    assert_eq!(leading_zero_bits(&[0; 32]), 256);
    assert_eq!(leading_zero_bits(&[0, 0, 0x01]), 23);
    assert_eq!(leading_zero_bits(&[0x80]), 0);
    assert_eq!(leading_zero_bits(&[]), 0);
}

#[test]
fn the_last_candidates_before_u64_max_then_exhausted() {
    let search = Search::new(Scheme::Legacy, b"x", 0).unwrap();
    match search.scan(u64::MAX - 1, 10) {
        ScanOutcome::Found { nonce, .. } => assert_eq!(nonce.value(), u64::MAX - 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(search.scan(u64::MAX, 10), ScanOutcome::Exhausted);
    let hard = Search::new(Scheme::Legacy, b"x", 200).unwrap();
    assert_eq!(hard.scan(u64::MAX - 5, 100), ScanOutcome::Exhausted);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The SHA-extensions kernel (where the CPU has it) finds exactly what
    /// the portable path finds, from any start, for any challenge.
    #[test]
    fn the_fast_path_equals_the_portable_path(
        scheme in any_scheme(),
        challenge in "\\PC{0,300}",
        start in prop_oneof![0u64..1_000_000, 1_000_000_000u64..1_000_100_000, (u64::MAX - 1_000_000)..(u64::MAX - 5_000)],
        difficulty in 0i64..=20,
    ) {
        let search = Search::new(scheme, challenge.as_bytes(), difficulty).unwrap();
        prop_assert_eq!(search.scan(start, 5_000), search.scan_portable(start, 5_000));
    }
}
