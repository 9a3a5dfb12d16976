//! Load under faults: many concurrent logins through one agent while the
//! emulator injects mixed faults. Every login completes, every request is
//! approved exactly once, nothing is left pending, memory stays bounded.
#![forbid(unsafe_code)]

use std::time::Instant;

use lime_core::Config;
use lime_emulator::{BlockingEmulator, Emulator, Fault, Route};

/// Roughly 10% of calls fail in one of four ways, interleaved by route.
fn faulty_emulator() -> BlockingEmulator {
    let emu = Emulator::builder().difficulty(8).start_blocking().unwrap();
    emu.inject_every(
        Route::ReadRequest,
        Fault::Status {
            status: 503,
            retry_after: Some(0),
        },
        10,
    );
    emu.inject_every(Route::ReadRequest, Fault::Drop, 23);
    emu.inject_every(Route::Approve, Fault::ProcessThenDrop, 11);
    emu.inject_every(
        Route::Approve,
        Fault::Status {
            status: 502,
            retry_after: None,
        },
        17,
    );
    emu.inject_every(
        Route::Profile,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        7,
    );
    emu
}

fn config(emu: &Emulator) -> Config {
    Config::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .pow_threads(1)
        .max_retries(8)
        .env_lookup(|_| None)
        .build()
        .unwrap()
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

fn assert_exactly_once(emu: &Emulator, ids: &[String]) {
    let counters = emu.counters();
    for id in ids {
        assert_eq!(
            counters.approvals(id),
            1,
            "{id} approved {} times",
            counters.approvals(id)
        );
        assert_eq!(emu.request_status(id), Some("APPROVED"), "{id}");
    }
}

#[test]
fn a_thousand_concurrent_logins_through_one_tokio_agent_under_faults() {
    let emu = faulty_emulator();
    let ids: Vec<String> = (0..1000).map(|_| emu.create_request()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let agent = runtime
        .block_on(async { lime_tokio::LimeAgent::new(config(&emu)) })
        .unwrap();
    let started = Instant::now();
    let results = runtime.block_on(async {
        let tasks: Vec<_> = ids
            .iter()
            .cloned()
            .map(|id| {
                let agent = agent.clone();
                tokio::spawn(async move { agent.login(&id).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} of 1000 failed: {:?}",
        failed.len(),
        failed.first()
    );
    assert_exactly_once(&emu, &ids);
    let c = emu.counters();
    let faults =
        c.calls(Route::ReadRequest) + c.calls(Route::Approve) + c.calls(Route::Profile) - 2000;
    let rss = peak_rss_mib();
    println!(
        "load/tokio: 1000 logins in {:.2} s, {} calls beyond the minimum (faults and reconciliation), peak RSS {rss} MiB",
        started.elapsed().as_secs_f64(),
        faults
    );
    assert!(faults >= 100, "faults were injected: {faults}");
    assert!(rss < 1024, "memory stays bounded: {rss} MiB");
}

#[test]
fn a_hundred_logins_on_blocking_threads_under_faults() {
    let emu = faulty_emulator();
    let ids: Vec<String> = (0..100).map(|_| emu.create_request()).collect();
    let agent = lime_blocking::LimeAgent::new(config(&emu)).unwrap();
    let started = Instant::now();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let agent = agent.clone();
                s.spawn(move || agent.login(id))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_exactly_once(&emu, &ids);
    println!(
        "load/blocking: 100 logins on 100 threads in {:.2} s, peak RSS {} MiB",
        started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}
