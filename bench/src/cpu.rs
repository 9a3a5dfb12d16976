//! What a login costs the client's CPU, never timed in tests:
//!
//! - `cpu-core`: lime-core's `Login` from a warm `AgentState` on canned
//!   answers (difficulty 0, no tracing subscriber, nothing but the SDK on
//!   the thread): CPU per login from the thread's scheduler clock, and
//!   allocations per login from a counting allocator.
//! - `cpu-adapter`: a lime-blocking or lime-tokio agent against a running
//!   emulator (difficulty 0, plain HTTP on loopback, connections reused):
//!   the CPU of every thread of this process per login, and how it splits
//!   between user space and the kernel (the loopback TCP stack, wake-ups).
//!   `--adapter bare` is the floor under both: lime-core's `Login` writing
//!   each request with one `write` on a kept TCP stream and reading its
//!   answer with as few `read`s as it takes, no HTTP library at all.
//! - `mcp` (in `main.rs`) uses the same clocks for the client's and the
//!   MCP server's CPU per tool call.

use std::time::{Duration, Instant};

use lime_core::drive::{AgentState, Output};
use serde_json::{Value, json};

/// CPU time this thread has run, from the scheduler (nanoseconds).
fn thread_cpu() -> Duration {
    schedstat("/proc/thread-self/schedstat")
}

/// CPU time every live thread of this process has run.
pub(crate) fn process_cpu() -> Duration {
    tasks_cpu("/proc/self/task")
}

/// CPU time every live thread of process `pid` has run (the emulator's,
/// beside the client's).
pub(crate) fn pid_cpu(pid: u32) -> Duration {
    tasks_cpu(&format!("/proc/{pid}/task"))
}

fn tasks_cpu(dir: &str) -> Duration {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir(dir).expect("a /proc task directory") {
        let path = task.expect("a task").path().join("schedstat");
        total += schedstat(path.to_str().expect("a path"));
    }
    total
}

/// This process's user and kernel CPU so far (`/proc/self/stat`, in
/// clock ticks of 10 ms: coarse, so only for runs of a second or so).
fn user_and_kernel() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|t| t.parse().ok()).unwrap_or(0u64);
    let tick = Duration::from_millis(10);
    (tick * ticks(11) as u32, tick * ticks(12) as u32)
}

fn schedstat(path: &str) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn answer(body: &str) -> lime_core::drive::HttpResponse {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .expect("a response")
}

const READ: &str = r#"{"ok":true,"data":{"request_id":"lr_bench","site_id":"site_1","status":"PENDING","expires_at":"2030-01-01T00:00:00Z","approved_agent_id":null,"pow_challenge":"c0ffee","pow_difficulty":0,"pow_scheme":"v1"}}"#;
const APPROVED: &str = r#"{"ok":true,"data":{"request_id":"lr_bench","site_id":"site_1","status":"APPROVED","expires_at":"2030-01-01T00:00:00Z","approved_agent_id":"agent_1"}}"#;

/// One login driven to its end, each request answered by `exchange`.
fn drive_login(
    state: &AgentState,
    id: &str,
    mut exchange: impl FnMut(&lime_core::drive::HttpRequest) -> lime_core::drive::HttpResponse,
) {
    let now = Instant::now();
    let mut login = state
        .start_login(id, lime_pow::Progress::new(), now)
        .expect("a login");
    loop {
        match login.poll_output() {
            Output::Send(transmit) => login.handle_response(exchange(&transmit.request), now),
            Output::Solve(task) => login.handle_solution(task.run(), now),
            Output::Wait(until) => login.handle_timeout(until),
            Output::Done(result) => {
                result.expect("approved");
                return;
            }
        }
    }
}

/// One login on canned answers.
fn one_login(state: &AgentState) {
    let mut sent = 0;
    drive_login(state, "lr_bench", |_| {
        sent += 1;
        answer(if sent == 1 { READ } else { APPROVED })
    });
}

pub(crate) fn core(count: usize) -> Value {
    let config = lime_core::Config::builder()
        .token("at_bench")
        .base_url("http://127.0.0.1:9/api/v1")
        .env_lookup(|_| None)
        .build()
        .expect("a config");
    let state = AgentState::new(config, 7);
    for _ in 0..1_000 {
        one_login(&state); // warm: kernel choice, CPU count, caches
    }
    let allocations = stats_alloc::Region::new(crate::GLOBAL);
    one_login(&state);
    let per_login = allocations.change();
    // The canned answers the harness builds: two responses, two headers.
    let harness = stats_alloc::Region::new(crate::GLOBAL);
    std::hint::black_box((answer(READ), answer(APPROVED)));
    let harness = harness.change();
    let cpu_before = thread_cpu();
    let wall = Instant::now();
    for _ in 0..count {
        one_login(&state);
    }
    let cpu = thread_cpu() - cpu_before;
    json!({
        "logins": count,
        "cpu_us_per_login": cpu.as_secs_f64() * 1e6 / count as f64,
        "wall_us_per_login": wall.elapsed().as_secs_f64() * 1e6 / count as f64,
        "allocations_per_login": per_login.allocations,
        "harness_allocations_per_login": harness.allocations,
        "bytes_allocated_per_login": per_login.bytes_allocated,
    })
}

pub(crate) fn adapter(adapter: &str, count: usize) -> Value {
    let ids: Vec<String> = (0..count + 50).map(|_| crate::create_request()).collect();
    let (warm, timed) = ids.split_at(50);
    let (cpu, (user_before, kernel_before), wall) = match adapter {
        "blocking" => {
            let agent = lime_blocking::LimeAgent::new(crate::config()).expect("agent");
            warm_then_time(warm, timed, |id| {
                agent.login(id).expect("login");
            })
        }
        "bare" => {
            let state = AgentState::new(crate::config(), 7);
            let mut stream = None;
            warm_then_time(warm, timed, |id| bare_login(&state, &mut stream, id))
        }
        _ => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let agent = lime_tokio::LimeAgent::new(crate::config()).expect("agent");
            let (warm, timed) = (warm.to_vec(), timed.to_vec());
            // On a worker, as a service's handler runs (block_on's thread
            // is not one: every wake-up would cross threads).
            runtime
                .block_on(runtime.spawn(async move {
                    for id in &warm {
                        agent.login(id).await.expect("login");
                    }
                    let (before, split, wall) = (process_cpu(), user_and_kernel(), Instant::now());
                    for id in &timed {
                        agent.login(id).await.expect("login");
                    }
                    (process_cpu() - before, split, wall.elapsed())
                }))
                .expect("the timed task")
        }
    };
    let (user, kernel) = user_and_kernel();
    let per_login = |d: Duration| d.as_secs_f64() * 1e6 / count as f64;
    json!({
        "adapter": adapter,
        "logins": count,
        "cpu_us_per_login": per_login(cpu),
        "user_us_per_login": per_login(user - user_before),
        "kernel_us_per_login": per_login(kernel - kernel_before),
        "wall_us_per_login": wall.as_secs_f64() * 1e6 / count as f64,
    })
}

/// `login` over the `warm` ids, then timed over the `timed` ones: this
/// process's CPU, its user and kernel split before, and the wall time.
fn warm_then_time(
    warm: &[String],
    timed: &[String],
    mut login: impl FnMut(&str),
) -> (Duration, (Duration, Duration), Duration) {
    for id in warm {
        login(id);
    }
    let (before, split, wall) = (process_cpu(), user_and_kernel(), Instant::now());
    for id in timed {
        login(id);
    }
    (process_cpu() - before, split, wall.elapsed())
}

/// One login driven by lime-core over `stream` (opened on first use):
/// what any adapter has to pay at the least.
fn bare_login(state: &AgentState, stream: &mut Option<std::net::TcpStream>, id: &str) {
    drive_login(state, id, |request| {
        let stream = stream.get_or_insert_with(|| {
            let authority = request.uri().authority().expect("an absolute URL");
            let stream = std::net::TcpStream::connect(authority.as_str()).expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            stream
        });
        bare_exchange(stream, request)
    });
}

/// Writes `request` as HTTP/1.1 in one `write` and reads one
/// `content-length` answer (what the emulator sends).
fn bare_exchange(
    stream: &mut std::net::TcpStream,
    request: &lime_core::drive::HttpRequest,
) -> lime_core::drive::HttpResponse {
    use std::io::{Read, Write};
    let uri = request.uri();
    let mut out = Vec::with_capacity(512);
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let host = uri.authority().map_or("", |a| a.as_str());
    write!(
        out,
        "{} {target} HTTP/1.1\r\nhost: {host}\r\n",
        request.method()
    )
    .expect("a Vec");
    for (name, value) in request.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    write!(out, "content-length: {}\r\n\r\n", request.body().len()).expect("a Vec");
    out.extend_from_slice(request.body());
    stream.write_all(&out).expect("write");

    let mut input = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "the emulator closed the connection");
        input.extend_from_slice(&chunk[..n]);
        let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&input[..end]).expect("a text head");
        let length: usize = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, value)| value.trim().parse().expect("a length"));
        if input.len() < end + 4 + length {
            continue;
        }
        let status: u16 = head[9..12].parse().expect("a status");
        return http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(input[end + 4..end + 4 + length].to_vec())
            .expect("a response");
    }
}
