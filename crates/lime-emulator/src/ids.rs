//! Random identifiers: request ids, tokens, token ids (`jti`).

use rsa::rand_core::{OsRng, RngCore};

/// `bytes` random bytes from the operating system, in lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
