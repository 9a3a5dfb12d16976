//! The Rust side of `bench/run`: each subcommand measures one thing against
//! a running LIME API (the emulator) and prints one JSON object.
//!
//! ```text
//! lime-bench pow --seconds S
//! lime-bench latency  --adapter tokio|blocking --count N   (LIME_API_BASE, LIME_AGENT_TOKEN, LIME_SITE_TOKEN)
//! lime-bench throughput --count N --concurrency C
//! lime-bench success --count N                            (PoW budget 10 s, the default)
//! lime-bench once <REQUEST_ID>                            (one login, for the footprint)
//! lime-bench mcp --url URL --addr IP:PORT --count N --concurrency C --server-pid PID   (MCP tool calls)
//! lime-bench cpu-core --count N                           (client CPU per login, canned answers)
//! lime-bench cpu-adapter --adapter tokio|blocking|bare --count N (client CPU per login, emulator)
//! ```
#![allow(clippy::print_stdout)]
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lime_pow::{Scheme, SolveError, Solver};
use serde_json::{Value, json};

mod cpu;

/// Counts allocations for `cpu-core` (atomic counters beside the system
/// allocator; every other mode pays two relaxed adds per allocation).
#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is required"))
}

/// Creates a login request as the site does (not timed).
fn create_request() -> String {
    let url = format!("{}/modules/agent-login/requests", env("LIME_API_BASE"));
    let mut response = ureq::post(&url)
        .header("X-Site-Token", env("LIME_SITE_TOKEN"))
        .header("Content-Type", "application/json")
        .send("{}")
        .expect("the site creates a request");
    let body: Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().expect("body")).expect("JSON");
    body["data"]["login_request_id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn percentiles(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    json!({ "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "samples": ms })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let output = match args.first().map(String::as_str) {
        Some("pow") => pow(Duration::from_secs_f64(
            arg(&args, "--seconds", "2").parse().expect("seconds"),
        )),
        Some("latency") => latency(
            &arg(&args, "--adapter", "tokio"),
            arg(&args, "--count", "200").parse().expect("count"),
        ),
        Some("throughput") => throughput(
            arg(&args, "--count", "640").parse().expect("count"),
            arg(&args, "--concurrency", "64")
                .parse()
                .expect("concurrency"),
        ),
        Some("success") => success(arg(&args, "--count", "20").parse().expect("count")),
        Some("once") => once(args.get(1).expect("a request id")),
        Some("mcp") => mcp(
            &arg(&args, "--url", ""),
            arg(&args, "--addr", "").parse().expect("--addr IP:PORT"),
            arg(&args, "--count", "200").parse().expect("count"),
            arg(&args, "--concurrency", "64")
                .parse()
                .expect("concurrency"),
            arg(&args, "--server-pid", "")
                .parse()
                .expect("--server-pid PID"),
        ),
        Some("cpu-core") => cpu::core(arg(&args, "--count", "100000").parse().expect("count")),
        Some("cpu-adapter") => cpu::adapter(
            &arg(&args, "--adapter", "tokio"),
            arg(&args, "--count", "2000").parse().expect("count"),
        ),
        _ => panic!(
            "usage: lime-bench pow|latency|throughput|success|once|mcp|cpu-core|cpu-adapter ..."
        ),
    };
    println!("{output}");
}

/// Hash rates: the raw single-stream block rate, the portable midstate
/// search on one thread, and the solver (the SHA-extensions kernel where the
/// CPU has it) on one and on every thread.
fn pow(window: Duration) -> Value {
    let mut state = [0x6a09_e667u32; 8];
    let block = [[0x5au8; 64]];
    let start = Instant::now();
    let mut blocks = 0u64;
    while start.elapsed() < window {
        for _ in 0..10_000 {
            sha2::block_api::compress256(&mut state, black_box(&block));
        }
        blocks += 10_000;
    }
    black_box(state);
    let raw = blocks as f64 / start.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rate = |threads: usize| match Solver::new().threads(threads).timeout(window).solve(
        Scheme::Legacy,
        b"a34a723e239648bc750a4d559313c5a1",
        256,
    ) {
        Err(SolveError::Timeout { hashes, elapsed }) => hashes as f64 / elapsed.as_secs_f64(),
        other => panic!("{other:?}"),
    };
    // The portable midstate search alone, one thread.
    let search = lime_pow::Search::new(Scheme::Legacy, b"a34a723e239648bc750a4d559313c5a1", 256)
        .expect("search");
    let started = Instant::now();
    let (mut from, mut tried) = (search.fast_start(), 0u64);
    while started.elapsed() < window {
        if let lime_pow::ScanOutcome::NotFound { next } = search.scan_portable(from, 100_000) {
            from = next;
        }
        tried += 100_000;
    }
    let portable = tried as f64 / started.elapsed().as_secs_f64();
    json!({
        "raw_block_rate": raw,
        "portable_1t": portable,
        "solver_1t": rate(1),
        "solver_all": rate(cores),
        "threads": cores,
        "kernel": lime_pow::search_kernel(),
    })
}

fn config() -> lime_core::Config {
    lime_core::Config::builder()
        .build()
        .expect("LIME_API_BASE and LIME_AGENT_TOKEN")
}

fn latency(adapter: &str, count: usize) -> Value {
    let ids: Vec<String> = (0..count).map(|_| create_request()).collect();
    let mut ms = Vec::with_capacity(count);
    match adapter {
        "blocking" => {
            let agent = lime_blocking::LimeAgent::new(config()).expect("agent");
            for id in &ids {
                let t = Instant::now();
                agent.login(id).expect("login");
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        _ => {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            let agent = lime_tokio::LimeAgent::new(config()).expect("agent");
            runtime.block_on(async {
                for id in &ids {
                    let t = Instant::now();
                    agent.login(id).await.expect("login");
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            });
        }
    }
    percentiles(ms)
}

fn throughput(count: usize, concurrency: usize) -> Value {
    let ids: Vec<String> = (0..count).map(|_| create_request()).collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let agent = lime_tokio::LimeAgent::new(config()).expect("agent");
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let ok = runtime.block_on(async {
        let tasks: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let (agent, limit) = (agent.clone(), limit.clone());
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.expect("semaphore");
                    agent.login(&id).await.is_ok()
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap_or(false));
        }
        ok
    });
    let secs = started.elapsed().as_secs_f64();
    json!({ "logins": count, "ok": ok, "seconds": secs, "per_second": ok as f64 / secs })
}

fn success(count: usize) -> Value {
    let agent = lime_blocking::LimeAgent::new(config()).expect("agent");
    let mut ok = 0;
    let mut ms = Vec::new();
    for _ in 0..count {
        let id = create_request();
        let t = Instant::now();
        if agent.login(&id).is_ok() {
            ok += 1;
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    json!({ "count": count, "ok": ok, "mean_ms": ms.iter().sum::<f64>() / count as f64 })
}

fn once(id: &str) -> Value {
    let agent = lime_blocking::LimeAgent::new(config()).expect("agent");
    json!({ "ok": agent.login(id).is_ok() })
}

/// MCP tool calls (`echo`) through one agent, with its defaults: `count`
/// sequential calls for latency, then `count` calls with `concurrency` in
/// flight for throughput. The token is minted and the session opened
/// before timing. Over the sequential calls, the CPU of this process and
/// of the MCP server (`server`, its pid) per call.
fn mcp(
    url: &str,
    addr: std::net::SocketAddr,
    count: usize,
    concurrency: usize,
    server_pid: u32,
) -> Value {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split([':', '/']).next())
        .expect("an MCP URL with a host")
        .to_owned();
    let agent = || {
        lime_tokio::LimeAgent::builder()
            .token(env("LIME_AGENT_TOKEN"))
            .base_url(env("LIME_API_BASE"))
            .allow_http(true)
            .mcp_allow_http(true)
            .resolve(&host, addr)
            .no_proxy()
            .build()
            .expect("agent")
    };
    // Sequential calls on one thread, as the Python SDK's asyncio loop
    // makes them: the headline latency and CPU.
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (ms, cpu) = one_thread.block_on(sequential_calls(agent(), url, count, server_pid));
    drop(one_thread);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let agent = agent();
    runtime.block_on(async {
        // The same calls in a task on a multi-thread runtime's worker, as a
        // service's handler makes them (its wake-ups may cross threads).
        let multi = tokio::spawn(sequential_calls(agent.clone(), url.to_owned(), count, server_pid));
        let (multi_ms, multi_cpu) = multi.await.expect("the sequential calls");
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let started = Instant::now();
        let tasks: Vec<_> = (0..count)
            .map(|i| {
                let (agent, limit, url) = (agent.clone(), limit.clone(), url.to_owned());
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.expect("semaphore");
                    agent.call_tool(&url, "echo", echo_arguments(i)).await.is_ok()
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap_or(false));
        }
        let secs = started.elapsed().as_secs_f64();
        json!({
            "latency": percentiles(ms),
            "cpu_us_per_call": cpu,
            "multi_thread": { "latency": percentiles(multi_ms), "cpu_us_per_call": multi_cpu },
            "throughput": { "calls": count, "ok": ok, "seconds": secs, "per_second": ok as f64 / secs },
        })
    })
}

fn echo_arguments(i: usize) -> Value {
    json!({ "text": format!("call {i}") })
}

/// `count` `echo` calls one after another (after a warm-up that opens the
/// session): each call's milliseconds, and the client's and the MCP
/// server's CPU per call.
async fn sequential_calls(
    agent: lime_tokio::LimeAgent,
    url: impl AsRef<str>,
    count: usize,
    server_pid: u32,
) -> (Vec<f64>, Value) {
    let url = url.as_ref();
    agent.list_tools(url).await.expect("warm-up");
    let mut ms = Vec::with_capacity(count);
    let (client, server) = (cpu::process_cpu(), cpu::pid_cpu(server_pid));
    for i in 0..count {
        let t = Instant::now();
        agent
            .call_tool(url, "echo", echo_arguments(i))
            .await
            .expect("call");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let per_call = |cpu: Duration| cpu.as_secs_f64() * 1e6 / count as f64;
    let client = per_call(cpu::process_cpu() - client);
    let server = per_call(cpu::pid_cpu(server_pid) - server);
    (ms, json!({ "client": client, "server": server }))
}
