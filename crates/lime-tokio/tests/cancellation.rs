//! Dropping the login future stops the solver. This test reads the whole
//! process's CPU time, so it lives alone in its own test binary: another
//! test running beside it (an emulator generating its RSA key, a login)
//! would be counted as the solver still running.
#![forbid(unsafe_code)]

use std::time::Duration;

use lime_emulator::Emulator;
use lime_tokio::LimeAgent;

/// CPU time this process has used, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_login_future_stops_the_solver() {
    let emu = Emulator::builder().difficulty(64).start().await.unwrap();
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
