//! `verify` and the midstate search against whole-message hashing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lime_pow::{Scheme, Search, Step, verify_bytes};
use sha2::{Digest, Sha256};

fn reference(scheme: Scheme, challenge: &[u8], nonce: &[u8], difficulty: i64) -> bool {
    if difficulty <= 0 {
        return true;
    }
    if difficulty > 256 {
        return false;
    }
    let mut h = Sha256::new();
    if scheme == Scheme::V1 {
        h.update(b"lime:pow:v1\0");
    }
    h.update(challenge);
    if scheme == Scheme::V1 {
        h.update([0]);
    }
    h.update(nonce);
    let digest = h.finalize();
    let zeros = (0..256).take_while(|&i| digest[i / 8] & (0x80 >> (i % 8)) == 0).count();
    zeros as i64 >= difficulty
}

fuzz_target!(|input: (bool, i16, u64, &[u8], &[u8])| {
    let (v1, difficulty, start, challenge, nonce) = input;
    let scheme = if v1 { Scheme::V1 } else { Scheme::Legacy };
    let difficulty = i64::from(difficulty);
    assert_eq!(
        verify_bytes(scheme, challenge, nonce, difficulty),
        reference(scheme, challenge, nonce, difficulty)
    );
    // The search's first hit in a small window equals the reference's.
    let d = difficulty.clamp(0, 6);
    let search = Search::new(scheme, challenge, d).expect("d <= 256");
    let expected = (start..start.saturating_add(64)).find(|n| reference(scheme, challenge, n.to_string().as_bytes(), d));
    match search.scan(start, 64) {
        Step::Found { nonce, .. } => assert_eq!(Some(nonce.value()), expected),
        _ => assert_eq!(expected, None),
    }
});
