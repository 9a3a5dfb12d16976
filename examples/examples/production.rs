//! The production pattern: retry once when the proof of work times out
//! (a fresh attempt gets a fresh challenge budget), and branch on the
//! error's helpers so operators can act on them.
//!
//! ```text
//! cargo run -p lime-examples --example production
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::time::Duration;

use lime_examples::Playground;
use lime_tokio::{ApprovalResult, Error, LimeAgent};

async fn confirm(agent: &LimeAgent, request_id: &str) -> Result<ApprovalResult, Error> {
    match agent.login(request_id).await {
        Err(Error::PowTimeout {
            difficulty, hashes, ..
        }) => {
            println!(
                "PoW at difficulty {difficulty} timed out after {hashes} hashes; trying once more"
            );
            agent.login(request_id).await
        }
        other => other,
    }
}

/// The emulator (when embedded) runs its own runtime, so start it before ours.
fn main() {
    let playground = Playground::start(18);
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime")
        .block_on(run(playground));
}

async fn run(mut playground: Playground) {
    let agent = LimeAgent::builder()
        .token(&playground.token)
        .base_url(&playground.base_url)
        .pow_timeout(Duration::from_secs(10))
        .deadline(Duration::from_secs(60))
        .build()
        .expect("valid configuration");
    let Some(request_id) = playground.next_request() else {
        println!("pass a request id when LIME_API_BASE is set");
        std::process::exit(2);
    };
    match confirm(&agent, &request_id).await {
        Ok(approval) => println!(
            "confirmed {}: {} (site {})",
            approval.request_id, approval.status, approval.site_id
        ),
        Err(e) => {
            // Operators act on kinds, not on prose.
            if e.is_conflict() {
                println!("already approved by another agent: nothing to do");
            } else if e.is_expired() {
                println!("the site must start a new login");
            } else if e.is_agent_inactive() || e.is_owner_suspended() {
                println!("the agent's owner must reactivate it in the LIME dashboard");
            } else if e.is_rate_limited() {
                println!(
                    "rate limited; the server asked to wait {:?}",
                    e.retry_after()
                );
            } else if let Some(code) = e.code() {
                println!(
                    "API error {code} (HTTP {:?}): {}",
                    e.http_status(),
                    e.message()
                );
            } else {
                println!("failed: {e}");
            }
            std::process::exit(1);
        }
    }
    // A second try at the same request is safe: this agent's own approval
    // is success from the read, with nothing sent again.
    if playground.emulator().is_some() {
        let again = agent.login(&request_id).await;
        println!(
            "second login of the same request: {}",
            again.map_or_else(|e| e.code().unwrap_or("?").to_owned(), |_| "ok".into())
        );
    }
}
