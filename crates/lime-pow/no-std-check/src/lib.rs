//! Uses lime-pow's allocation-free API from a `#![no_std]` staticlib.
#![no_std]

use lime_pow::{Scheme, Search, Step, verify_bytes};

/// Exported so the search and verify paths are linked, not optimised away.
#[unsafe(no_mangle)]
pub extern "C" fn lime_pow_check(challenge: *const u8, len: usize, difficulty: i64) -> u64 {
    // SAFETY: the C caller passes a valid buffer of `len` bytes.
    let challenge = unsafe { core::slice::from_raw_parts(challenge, len) };
    let Ok(search) = Search::new(Scheme::V1, challenge, difficulty) else {
        return u64::MAX;
    };
    match search.scan(0, 1_000_000) {
        Step::Found { nonce, .. } if verify_bytes(Scheme::V1, challenge, nonce.as_bytes(), difficulty) => {
            nonce.value()
        }
        _ => u64::MAX,
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
