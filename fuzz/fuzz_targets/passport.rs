//! Fuzz target `passport`: see `fuzz/src/checks.rs`.
#![no_main]

#[path = "../src/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::passport(data));
