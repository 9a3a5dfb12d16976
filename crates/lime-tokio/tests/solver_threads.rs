//! Concurrent logins share the process's cores: 32 logins through one agent
//! never run more than about one solver thread per core. This test counts
//! the process's threads, so it lives alone in its own test binary.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use lime_emulator::Emulator;
use lime_tokio::LimeAgent;

/// Threads of this process, from /proc (Linux).
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn thirty_two_concurrent_logins_stay_within_one_solver_thread_per_core() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let emulator = Emulator::builder().difficulty(18).start_blocking().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let agent = LimeAgent::builder()
        .token(emulator.agent_token())
        .base_url(emulator.base_url())
        .pow_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    // Warm up: the runtime's blocking pool and the connection pool reach
    // their working size (a blocking thread finishing one solve may not be
    // idle yet when the next starts, so the pool keeps one or two spare).
    runtime.block_on(async {
        let warm: Vec<_> = (0..8 * cores)
            .map(|_| {
                let (agent, id) = (agent.clone(), emulator.create_request());
                tokio::spawn(async move { agent.login(&id).await })
            })
            .collect();
        for login in warm {
            login.await.unwrap().unwrap();
        }
    });
    let baseline = threads();

    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(threads(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let ids: Vec<String> = (0..32).map(|_| emulator.create_request()).collect();
    let started = std::time::Instant::now();
    runtime.block_on(async {
        let logins: Vec<_> = ids
            .iter()
            .map(|id| {
                let (agent, id) = (agent.clone(), id.clone());
                tokio::spawn(async move { agent.login(&id).await })
            })
            .collect();
        for login in logins {
            login.await.unwrap().unwrap();
        }
    });
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    for id in &ids {
        assert_eq!(emulator.counters().approvals(id), 1);
    }
    // The sampler itself is one thread; each solve's helpers come from the
    // core budget; the runtime keeps its blocking threads from the warm-up.
    // Without the budget, each of the 32 logins held a blocking thread and
    // a helper per core: about 64 more threads on this machine.
    let peak = peak.load(Ordering::SeqCst);
    let allowed = baseline + 1 + cores;
    eprintln!(
        "32 logins at difficulty 18 in {took:?}: peak {peak} threads, baseline {baseline}, {cores} cores"
    );
    assert!(
        peak <= allowed,
        "peak {peak} threads against {allowed} allowed (baseline {baseline}, {cores} cores)"
    );
}
