//! Uses lime-pow's allocation-free API from a `#![no_std]` staticlib.
#![no_std]
#![forbid(unsafe_code)]

use lime_pow::{Scheme, Search, ScanOutcome, verify_bytes};

/// Public, so the search and verify paths are compiled into the library.
pub fn lime_pow_check(challenge: &[u8], difficulty: i64) -> u64 {
    let Ok(search) = Search::new(Scheme::V1, challenge, difficulty) else {
        return u64::MAX;
    };
    match search.scan(0, 1_000_000) {
        ScanOutcome::Found { nonce, .. } if verify_bytes(Scheme::V1, challenge, nonce.as_bytes(), difficulty) => {
            nonce.value()
        }
        _ => u64::MAX,
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
