//! A scripted server and a simulated clock: each test lists the replies the
//! flow gets, in order, and asserts on the requests it sent and its result.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use lime_core::{
    AgentProfile, ApprovalResult, Config, ConfigBuilder, Error, Login, Profile,
    drive::{
        AgentState, Flow, HttpRequest, HttpResponse, Output, TransportError, TransportErrorKind,
    },
    mcp::{McpTarget, McpTicket, TokenStep, Want},
};

pub const TOKEN: &str = "at_scenario-secret-token-0123456789";
pub const BASE: &str = "http://127.0.0.1:9/api/v1";
pub const AGENT: &str = "agent_me";
pub const SITE_TOKEN: &str = "st_scenario-site-token-0123456789";

/// One scripted answer.
pub enum Reply {
    Http(HttpResponse),
    Transport(TransportErrorKind),
}

/// What the flow did.
#[derive(Debug)]
pub struct Run<T> {
    pub result: Result<T, Error>,
    pub requests: Vec<HttpRequest>,
    pub waits: Vec<Duration>,
    pub solves: Vec<(lime_pow::Scheme, i64)>,
    pub elapsed: Duration,
}

impl<T> Run<T> {
    /// `METHOD path` of every request, in order.
    pub fn calls(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r.method(),
                    r.uri().path().trim_start_matches("/api/v1")
                )
            })
            .collect()
    }

    pub fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| c.as_str() == call).count()
    }
}

pub struct Scenario {
    builder: Box<dyn FnOnce(ConfigBuilder) -> ConfigBuilder>,
    replies: VecDeque<Reply>,
    agent_id: Option<String>,
    /// Simulated time each request takes.
    latency: Duration,
}

pub fn scenario() -> Scenario {
    Scenario {
        builder: Box::new(|b| b),
        replies: VecDeque::new(),
        agent_id: None,
        latency: Duration::from_millis(5),
    }
}

pub fn response(status: u16, body: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

pub fn ok(data: serde_json::Value) -> String {
    serde_json::json!({ "ok": true, "data": data }).to_string()
}

pub fn api_error(code: &str, message: &str) -> String {
    serde_json::json!({ "ok": false, "error": { "code": code, "message": message } }).to_string()
}

/// A pending request's read; `difficulty` may be any JSON value, to send a
/// mistyped one.
pub fn pending(
    challenge: &str,
    difficulty: impl Into<serde_json::Value>,
    scheme: Option<&str>,
) -> String {
    let difficulty: serde_json::Value = difficulty.into();
    let mut data = serde_json::json!({
        "request_id": "lr_1", "site_id": "site_1", "status": "PENDING",
        "expires_at": "2026-11-28T18:00:00Z", "approved_agent_id": null,
        "pow_challenge": challenge, "pow_difficulty": difficulty,
    });
    if let Some(s) = scheme {
        data["pow_scheme"] = s.into();
    }
    ok(data)
}

pub fn request_state(status: &str, approver: Option<&str>, challenge: &str) -> String {
    ok(serde_json::json!({
        "request_id": "lr_1", "site_id": "site_1", "status": status,
        "expires_at": "2026-11-28T18:00:00+02:00", "approved_agent_id": approver,
        "pow_challenge": challenge, "pow_difficulty": 4,
    }))
}

pub fn approved(agent: &str) -> String {
    ok(serde_json::json!({
        "request_id": "lr_1", "site_id": "site_1", "status": "APPROVED",
        "expires_at": "2026-11-28T18:00:00+02:00", "approved_agent_id": agent,
    }))
}

pub fn profile_body(owner_key: &str) -> String {
    let mut data = serde_json::json!({
        "agent_id": AGENT, "display_name": "Me", "avatar_url": null,
        "description": "test agent", "owner_kyc_level": 2, "agent_reputation": 17,
    });
    data[owner_key] = "user_9".into();
    ok(data)
}

/// An agent state on the test config (seeded, so its jitter repeats).
pub fn agent_state() -> AgentState {
    AgentState::new(Scenario::build_config(Box::new(|b| b)), 7)
}

/// A mint's success answer: a token of `secs` seconds of life.
pub fn minted(secs: u64) -> HttpResponse {
    let body = format!(
        r#"{{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2ln","token_type":"Bearer","expires_in":{secs}}}"#
    );
    http::Response::builder()
        .status(200)
        .header("cache-control", "no-store")
        .body(body.into_bytes())
        .unwrap()
}

/// A login on the test config for tests that drive it step by step.
/// A site's configuration: the site token, the scenario's base URL.
pub fn site_config() -> Config {
    Config::builder()
        .site_token(SITE_TOKEN)
        .base_url(BASE)
        .env_lookup(|_| None)
        .build_site()
        .expect("valid site config")
}

pub fn manual_login() -> (Login, Instant) {
    let now = Instant::now();
    let config = Scenario::build_config(Box::new(|b| b));
    (Login::new(&config, "lr_1", now).expect("valid id"), now)
}

impl Scenario {
    pub fn config(mut self, f: impl FnOnce(ConfigBuilder) -> ConfigBuilder + 'static) -> Self {
        self.builder = Box::new(f);
        self
    }

    pub fn agent_id(mut self, id: &str) -> Self {
        self.agent_id = Some(id.to_owned());
        self
    }

    pub fn reply(mut self, status: u16, body: &str) -> Self {
        self.replies.push_back(Reply::Http(response(status, body)));
        self
    }

    pub fn reply_with(mut self, response: HttpResponse) -> Self {
        self.replies.push_back(Reply::Http(response));
        self
    }

    pub fn transport(mut self, kind: TransportErrorKind) -> Self {
        self.replies.push_back(Reply::Transport(kind));
        self
    }

    pub fn build_config(builder: Box<dyn FnOnce(ConfigBuilder) -> ConfigBuilder>) -> Config {
        builder(
            Config::builder()
                .token(TOKEN)
                .base_url(BASE)
                .pow_threads(1)
                .env_lookup(|_| None),
        )
        .build()
        .expect("valid test config")
    }

    pub fn login(self, request_id: &str) -> Run<ApprovalResult> {
        let config = Self::build_config(self.builder);
        let start = Instant::now();
        let mut login = match Login::new(&config, request_id, start) {
            Ok(login) => login.with_jitter_seed(7),
            Err(e) => {
                return Run {
                    result: Err(e),
                    requests: vec![],
                    waits: vec![],
                    solves: vec![],
                    elapsed: Duration::ZERO,
                };
            }
        };
        if let Some(id) = self.agent_id.clone() {
            login = login.with_agent_id(id);
        }
        let mut replies = self.replies;
        drive(&mut login, start, self.latency, &mut replies)
    }

    /// A token for `target` from `state` at `at` (simulated time): no
    /// request when the cache answers, else the mint the state hands out.
    pub fn mint(self, state: &AgentState, target: &str, want: Want, at: Instant) -> Run<McpTicket> {
        let target = McpTarget::parse(target, true).expect("a valid target");
        let mut replies = self.replies;
        match state.mcp_token(&target, want, at) {
            TokenStep::Ready(ticket) => {
                assert!(replies.is_empty(), "a cached token needs no reply");
                Run {
                    result: Ok(ticket),
                    requests: vec![],
                    waits: vec![],
                    solves: vec![],
                    elapsed: Duration::ZERO,
                }
            }
            TokenStep::Mint(mut mint) => drive(&mut *mint, at, self.latency, &mut replies),
        }
    }

    /// A login started by `state`, as the adapters start theirs.
    pub fn login_on(self, state: &AgentState, request_id: &str) -> Run<ApprovalResult> {
        let start = Instant::now();
        let mut login = state
            .start_login(request_id, lime_pow::Progress::new(), start)
            .expect("a valid request id");
        let mut replies = self.replies;
        drive(&mut login, start, self.latency, &mut replies)
    }

    /// A profile read started by `state`, as the adapters start theirs.
    pub fn profile_on(self, state: &AgentState) -> Run<AgentProfile> {
        let start = Instant::now();
        let mut profile = state.start_profile(start);
        let mut replies = self.replies;
        drive(&mut profile, start, self.latency, &mut replies)
    }

    /// A site's flow, started by `start` on a site's configuration.
    pub fn site<F: Flow>(self, start: impl FnOnce(&Config, Instant) -> F) -> Run<F::Value> {
        let config = site_config();
        let now = Instant::now();
        let mut flow = start(&config, now);
        let mut replies = self.replies;
        drive(&mut flow, now, self.latency, &mut replies)
    }

    pub fn profile(self) -> Run<AgentProfile> {
        let config = Self::build_config(self.builder);
        let start = Instant::now();
        let mut profile = Profile::new(&config, start).with_jitter_seed(7);
        let mut replies = self.replies;
        drive(&mut profile, start, self.latency, &mut replies)
    }
}

/// Drives any flow through the same trait the adapters use, on simulated
/// time: each request costs `latency`, each wait is jumped over.
fn drive<F: Flow>(
    flow: &mut F,
    start: Instant,
    latency: Duration,
    replies: &mut VecDeque<Reply>,
) -> Run<F::Value> {
    let mut now = start;
    let mut requests = Vec::new();
    let mut waits = Vec::new();
    let mut solves = Vec::new();
    for _ in 0..1000 {
        match flow.poll_output() {
            Output::Send(transmit) => {
                assert!(transmit.deadline > now, "an attempt must have time left");
                requests.push(transmit.request);
                now += latency;
                match replies.pop_front() {
                    Some(Reply::Http(r)) => flow.handle_response(r, now),
                    Some(Reply::Transport(kind)) => {
                        flow.handle_transport_error(TransportError::new(kind, "scripted"), now)
                    }
                    None => panic!(
                        "unscripted request #{}: {} {}",
                        requests.len(),
                        requests.last().unwrap().method(),
                        requests.last().unwrap().uri()
                    ),
                }
            }
            Output::Solve(task) => {
                solves.push((task.scheme(), task.difficulty()));
                let outcome = task.run();
                flow.handle_solution(outcome, now);
            }
            Output::Wait(until) => {
                assert!(until >= now, "waits are in the future");
                waits.push(until - now);
                now = until;
                flow.handle_timeout(now);
            }
            Output::Done(result) => {
                assert!(
                    replies.is_empty(),
                    "{} scripted replies were never asked for",
                    replies.len()
                );
                return Run {
                    result,
                    requests,
                    waits,
                    solves,
                    elapsed: now - start,
                };
            }
        }
    }
    panic!("the flow did not finish in 1000 steps");
}
