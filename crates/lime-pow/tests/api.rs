//! The small public types: difficulty rules, scheme names, error texts.
#![forbid(unsafe_code)]

use lime_pow::{
    Difficulty, MAX_DIFFICULTY, ScanOutcome, Scheme, Search, SolveError, UnknownScheme, Unsolvable,
};

#[test]
fn difficulty_clamps_low_refuses_high_and_displays_bits() {
    assert_eq!(Difficulty::new(i64::MIN).unwrap(), Difficulty::ZERO);
    assert_eq!(
        Difficulty::new(256).unwrap().bits(),
        u32::from(MAX_DIFFICULTY)
    );
    assert_eq!(Difficulty::new(257), Err(Unsolvable { difficulty: 257 }));
    assert_eq!(Difficulty::new(24).unwrap().to_string(), "24");
    assert_eq!(Difficulty::new(0).unwrap().expected_hashes(), 1.0);
    assert_eq!(Difficulty::new(20).unwrap().expected_hashes(), 1_048_576.0);
    assert!(Unsolvable { difficulty: 300 }.to_string().contains("300"));
}

#[test]
fn difficulties_across_word_boundaries_are_met_exactly() {
    // The nonce search checks whole 32-bit words first; 32, 33 and 64 bits
    // cross those boundaries. Difficulty 0 takes the first candidate.
    let zero = Search::new(Scheme::Legacy, b"x", 0).unwrap();
    assert!(
        matches!(zero.scan(5, 1), ScanOutcome::Found { nonce, tried: 1 } if nonce.value() == 5)
    );
    for bits in [31, 32, 33, 63, 64, 65, 255, 256] {
        let search = Search::new(Scheme::V1, b"boundary", bits).unwrap();
        assert!(
            matches!(search.scan(0, 2_000), ScanOutcome::NotFound { next: 2_000 }),
            "{bits}"
        );
        assert_eq!(search.difficulty().bits(), bits as u32);
    }
}

#[test]
fn scheme_names_parse_both_ways() {
    for scheme in [Scheme::Legacy, Scheme::V1] {
        assert_eq!(scheme.to_string().parse::<Scheme>(), Ok(scheme));
        assert_eq!(scheme.as_str().to_uppercase().parse::<Scheme>(), Ok(scheme));
    }
    assert_eq!("sha1".parse::<Scheme>(), Err(UnknownScheme));
    assert!(UnknownScheme.to_string().contains("legacy"));
}

#[test]
fn solve_errors_explain_themselves() {
    let timeout = SolveError::Timeout {
        hashes: 7,
        elapsed: std::time::Duration::from_millis(1500),
    };
    assert!(timeout.to_string().contains("7 hashes") && timeout.to_string().contains("1.500 s"));
    assert!(
        SolveError::Cancelled { hashes: 3 }
            .to_string()
            .contains("cancelled")
    );
    assert_eq!(
        SolveError::from(Unsolvable { difficulty: 999 }),
        SolveError::Unsolvable { difficulty: 999 }
    );
    assert!(
        SolveError::Unsolvable { difficulty: 999 }
            .to_string()
            .contains("999")
    );
}
