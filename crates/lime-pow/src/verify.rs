//! Exact verification against the reference rule.
#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};

use crate::{Difficulty, Scheme};

/// Whether `nonce` solves `challenge` at `difficulty` under `scheme`.
///
/// Exact to the reference rule: the SHA-256 digest of the scheme's message,
/// read as a big-endian 256-bit integer, is below `2^(256 - difficulty)`.
/// `difficulty <= 0` accepts any nonce (no hashing); `difficulty > 256` accepts
/// none. The nonce may be any string, decimal or not.
///
/// ```
/// use lime_pow::{verify, Scheme};
/// assert!(verify(Scheme::Legacy, "", "88484", 15));
/// assert!(!verify(Scheme::Legacy, "", "88483", 15));
/// assert!(verify(Scheme::V1, "anything", "not-a-number", 0));
/// ```
pub fn verify(scheme: Scheme, challenge: &str, nonce: &str, difficulty: i64) -> bool {
    verify_bytes(scheme, challenge.as_bytes(), nonce.as_bytes(), difficulty)
}

/// [`verify`] over raw bytes, for challenges and nonces that are not UTF-8.
pub fn verify_bytes(scheme: Scheme, challenge: &[u8], nonce: &[u8], difficulty: i64) -> bool {
    match Difficulty::new(difficulty) {
        Err(_) => false,
        Ok(d) if d.bits() == 0 => true,
        Ok(d) => leading_zero_bits(&digest(scheme, challenge, nonce)) >= d.bits(),
    }
}

/// The SHA-256 digest of the message `scheme` hashes for `challenge` and `nonce`.
///
/// ```
/// use lime_pow::{digest, Scheme};
/// let d = digest(Scheme::Legacy, b"", b"0");
/// assert_eq!(d[0], 0x5f);
/// ```
pub fn digest(scheme: Scheme, challenge: &[u8], nonce: &[u8]) -> [u8; 32] {
    let (before, after) = scheme.framing();
    Sha256::new()
        .chain_update(before)
        .chain_update(challenge)
        .chain_update(after)
        .chain_update(nonce)
        .finalize()
        .into()
}

/// The number of leading zero bits of a digest read as a big-endian integer (0..=256).
///
/// ```
/// assert_eq!(lime_pow::leading_zero_bits(&[0x00, 0x0f, 0xff]), 12);
/// ```
pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut bits = 0;
    for &byte in digest {
        if byte != 0 {
            return bits + byte.leading_zeros();
        }
        bits += 8;
    }
    bits
}
