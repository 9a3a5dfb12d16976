//! Random identifiers: request ids, tokens, token ids (`jti`).

use aws_lc_rs::rand::SecureRandom;

/// `bytes` random bytes from aws-lc-rs's system random source, in
/// lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The system source fails only if the OS cannot give randomness at all;
    // an all-zero id would then collide, never leak.
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
