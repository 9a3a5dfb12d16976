//! A headless async worker: one `LimeAgent` for the whole process, shared by
//! every job, confirming logins as they arrive.
//!
//! ```text
//! cargo run -p lime-examples --example async_worker
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::time::Instant;

use lime_examples::Playground;
use lime_tokio::LimeAgent;

/// The emulator (when embedded) runs its own runtime, so start it before ours.
fn main() -> Result<(), lime_tokio::Error> {
    let playground = Playground::start(14);
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime")
        .block_on(run(playground))
}

async fn run(mut playground: Playground) -> Result<(), lime_tokio::Error> {
    // One agent per process: clones share the connection pool.
    let agent = LimeAgent::builder()
        .token(&playground.token)
        .base_url(&playground.base_url)
        .build()?;
    let jobs: Vec<String> = std::iter::from_fn(|| playground.next_request())
        .take(20)
        .collect();
    let started = Instant::now();
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|id| {
            let agent = agent.clone();
            tokio::spawn(async move { (agent.login(&id).await, id) })
        })
        .collect();
    let mut confirmed = 0;
    for handle in handles {
        match handle.await {
            Ok((Ok(approval), id)) => {
                confirmed += 1;
                println!("{id}: {} for {}", approval.status, approval.site_id);
            }
            Ok((Err(e), id)) => println!("{id}: failed: {e}"),
            Err(e) => println!("a job panicked: {e}"),
        }
    }
    println!(
        "{confirmed} logins confirmed in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    if confirmed == 0 {
        std::process::exit(1);
    }
    Ok(())
}
