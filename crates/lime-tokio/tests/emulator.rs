//! What only the async adapter has: cancellation by dropping the future,
//! and one agent shared by many tasks. The scenarios both adapters share
//! run in `tests/tests/adapters.rs` at the workspace root.
#![forbid(unsafe_code)]

use std::time::Duration;

use lime_emulator::Emulator;
use lime_tokio::LimeAgent;

async fn emulator(difficulty: i64) -> Emulator {
    Emulator::builder()
        .difficulty(difficulty)
        .start()
        .await
        .unwrap()
}

fn agent(emu: &Emulator) -> LimeAgent {
    LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap()
}

/// CPU time this process has used, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_login_future_stops_the_solver() {
    let emu = emulator(64).await;
    let id = emu.create_request();
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .pow_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let abandoned = tokio::time::timeout(Duration::from_millis(300), agent.login(&id)).await;
    assert!(abandoned.is_err(), "still solving when dropped");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = cpu_time();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let burned = cpu_time() - before;
    // A solver still running on two threads would burn about 1 s of CPU here.
    assert!(
        burned < Duration::from_millis(250),
        "the solver kept running: {burned:?} of CPU"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_shared_by_many_tasks() {
    let emu = emulator(8).await;
    let agent = agent(&emu);
    let ids: Vec<String> = (0..50).map(|_| emu.create_request()).collect();
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let agent = agent.clone();
            tokio::spawn(async move { agent.login(&id).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for id in &ids {
        assert_eq!(emu.counters().approvals(id), 1);
    }
}
