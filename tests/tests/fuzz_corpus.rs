//! Replays every fuzz target's seed corpus on stable, so `cargo test`
//! covers what the fuzzers check (`fuzz/src/checks.rs`).
#![forbid(unsafe_code)]

#[path = "../../fuzz/src/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            check(&std::fs::read(&path).unwrap());
            inputs += 1;
        }
    }
    assert!(inputs > 0, "the {target} corpus is empty");
}

#[test]
fn envelope_corpus() {
    replay("envelope", checks::envelope);
}

#[test]
fn login_flow_corpus() {
    replay("login_flow", checks::login_flow);
}

#[test]
fn pow_verify_corpus() {
    replay("pow_verify", checks::pow_verify);
}

#[test]
fn emulator_request_corpus() {
    replay("emulator_request", checks::emulator_request);
}

#[test]
fn sse_roundtrip_corpus() {
    replay("sse_roundtrip", checks::sse_roundtrip);
}

#[test]
fn mcp_token_response_corpus() {
    replay("mcp_token_response", checks::mcp_token_response);
}

#[test]
fn mcp_target_corpus() {
    replay("mcp_target", checks::mcp_target);
}

#[test]
fn passport_corpus() {
    replay("passport", checks::passport);
}
