//! Fuzz target `mcp_token_response`: see `fuzz/src/checks.rs`.
#![no_main]

#[path = "../src/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::mcp_token_response(data));
