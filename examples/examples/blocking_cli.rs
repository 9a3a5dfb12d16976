//! A blocking command-line tool: no async runtime, one call per login.
//!
//! ```text
//! cargo run -p lime-examples --example blocking_cli
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use lime_blocking::LimeAgent;
use lime_examples::Playground;

fn main() -> Result<(), lime_blocking::Error> {
    let mut playground = Playground::start(15);
    let agent = LimeAgent::builder()
        .token(&playground.token)
        .base_url(&playground.base_url)
        .build()?;
    let profile = agent.get_profile()?;
    println!("agent {} (owner {})", profile.agent_id, profile.owner_id);
    while let Some(id) = playground.next_request() {
        let report = agent.login_with_stats(&id)?;
        let (approval, pow) = (report.approval, report.pow);
        println!(
            "{id}: {} — difficulty {} solved with {} hashes in {:.1} ms",
            approval.status,
            pow.difficulty,
            pow.hashes,
            pow.elapsed.as_secs_f64() * 1000.0
        );
        if playground.emulator().is_some() {
            break; // one demo login against the embedded emulator
        }
    }
    Ok(())
}
