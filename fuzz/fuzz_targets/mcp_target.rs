//! Fuzz target `mcp_target`: see `fuzz/src/checks.rs`.
#![no_main]

#[path = "../src/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::mcp_target(data));
