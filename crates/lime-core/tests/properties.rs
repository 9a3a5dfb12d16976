//! Whatever the server sends, the login ends, within each step's budget,
//! and the token only goes where it belongs.

#![allow(clippy::disallowed_methods)]
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use lime_core::{
    Config, Login,
    drive::{AGENT_TOKEN_HEADER, AgentState, Output, TransportError, TransportErrorKind},
    mcp::{McpTarget, TokenStep, Want},
};
use proptest::prelude::*;

const TOKEN: &str = "at_property-secret-token-42";

#[derive(Debug, Clone)]
enum Reply {
    Http(u16, Vec<u8>),
    Transport(TransportErrorKind),
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(br#"{"ok":true,"data":{"status":"PENDING","pow_challenge":"c","pow_difficulty":3}}"#.to_vec()),
        Just(br#"{"ok":true,"data":{"status":"PENDING","pow_challenge":"c","pow_difficulty":3,"pow_scheme":"legacy"}}"#.to_vec()),
        Just(br#"{"ok":true,"data":{"status":"APPROVED","approved_agent_id":"me","request_id":"r","site_id":"s","expires_at":"2026-01-01T00:00:00Z"}}"#.to_vec()),
        Just(br#"{"ok":true,"data":{"agent_id":"me","user_id":"u"}}"#.to_vec()),
        Just(br#"{"ok":false,"error":{"code":"INVALID_POW","message":"x"}}"#.to_vec()),
        Just(br#"{"ok":false,"error":{"code":"SITE_LOGIN_CONFLICT"}}"#.to_vec()),
        Just(br#"{"ok":true,"data":{"pow_challenge":"c","pow_difficulty":"3"}}"#.to_vec()),
        Just(b"[]".to_vec()),
        Just(br#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":60}"#.to_vec()),
        Just(br#"{"access_token":"a.b.c","token_type":"bearer","expires_in":"60"}"#.to_vec()),
        Just(br#"{"error":"access_denied","error_description":"no grant"}"#.to_vec()),
        Just(br#"{"error":"invalid_client"}"#.to_vec()),
    ]
}

fn replies() -> impl Strategy<Value = Vec<Reply>> {
    let status = prop_oneof![
        Just(200u16),
        Just(200),
        Just(200),
        Just(301),
        Just(400),
        Just(401),
        Just(403),
        Just(404),
        Just(408),
        Just(409),
        Just(410),
        Just(429),
        Just(500),
        Just(502),
        Just(503),
        Just(504),
        100u16..600,
    ];
    let kind = prop_oneof![
        Just(TransportErrorKind::Connect),
        Just(TransportErrorKind::Timeout),
        Just(TransportErrorKind::ConnectionLost),
        Just(TransportErrorKind::Tls),
        Just(TransportErrorKind::BodyTooLarge),
    ];
    let reply = prop_oneof![
        8 => (status, bodies()).prop_map(|(s, b)| Reply::Http(s, b)),
        1 => kind.prop_map(Reply::Transport),
    ];
    proptest::collection::vec(reply, 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_replies_end_in_done_within_each_steps_budget(replies in replies(), known_agent in any::<bool>()) {
        let config = Config::builder()
            .token(TOKEN)
            .base_url("https://api.example:8443/api/v1")
            .pow_threads(1)
            .pow_timeout(Duration::from_secs(5))
            .env_lookup(|_| None)
            .build()
            .unwrap();
        let mut now = Instant::now();
        let mut login = Login::new(&config, "lr_prop", now).unwrap().with_jitter_seed(1);
        if known_agent {
            login = login.with_agent_id("me");
        }
        let mut calls: Vec<String> = Vec::new();
        let mut next = 0usize;
        let done = loop {
            prop_assert!(calls.len() <= 64, "too many requests: {calls:?}");
            match login.poll_output() {
                Output::Send(t) => {
                    let r = &t.request;
                    prop_assert!(r.uri().to_string().starts_with("https://api.example:8443/api/v1/"));
                    let call = format!("{} {}", r.method(), r.uri().path());
                    let authed = call.ends_with("/approve") || call.ends_with("/core/agents/me/profile");
                    prop_assert_eq!(r.headers().get(AGENT_TOKEN_HEADER).is_some(), authed, "{}", call);
                    // A step is a request and its body: the scheme fallback's
                    // approve (a new solve, a new nonce) is a step of its own,
                    // a retried approve repeats the same body.
                    calls.push(format!("{call} {}", String::from_utf8_lossy(r.body())));
                    now += Duration::from_millis(3);
                    match replies[next % replies.len()].clone() {
                        Reply::Http(status, body) => login.handle_response(
                            http::Response::builder().status(status).body(body).unwrap(), now),
                        Reply::Transport(kind) => login.handle_transport_error(TransportError::new(kind, "p"), now),
                    }
                    next += 1;
                }
                Output::Solve(task) => {
                    let outcome = task.run();
                    login.handle_solution(outcome, now);
                }
                Output::Wait(until) => {
                    prop_assert!(until - now <= Duration::from_secs(60) + Duration::from_millis(100));
                    now = until;
                    login.handle_timeout(now);
                }
                Output::Done(result) => break result,
            }
        };
        // No step (the same request, the same body) makes more than
        // max_retries + 1 = 4 attempts in a row.
        let mut run = 1;
        for pair in calls.windows(2) {
            run = if pair[0] == pair[1] { run + 1 } else { 1 };
            prop_assert!(run <= 4, "{calls:?}");
        }
        if let Err(e) = done {
            prop_assert!(!e.to_string().contains(TOKEN));
        }
    }

    #[test]
    fn any_replies_end_a_mint_within_its_budget_and_only_a_success_is_cached(replies in replies(), no_store in any::<bool>()) {
        let config = Config::builder()
            .token(TOKEN)
            .base_url("https://api.example:8443/api/v1")
            .env_lookup(|_| None)
            .build()
            .unwrap();
        let state = AgentState::new(config, 1);
        let target = McpTarget::parse("mcp.example.com", false).unwrap();
        let mut now = Instant::now();
        let TokenStep::Mint(mut mint) = state.mcp_token(&target, Want::Fresh, now) else {
            panic!("nothing is cached yet")
        };
        let mut sent = 0usize;
        let done = loop {
            prop_assert!(sent <= 4, "a mint makes at most max_retries + 1 = 4 attempts");
            match mint.poll_output() {
                Output::Send(t) => {
                    prop_assert_eq!(t.request.uri().path(), "/api/v1/modules/oauth/token");
                    prop_assert!(t.request.headers().get(AGENT_TOKEN_HEADER).is_some());
                    now += Duration::from_millis(3);
                    match replies[sent % replies.len()].clone() {
                        Reply::Http(status, body) => {
                            let mut answer = http::Response::builder().status(status);
                            if no_store {
                                answer = answer.header("cache-control", "no-store");
                            }
                            mint.handle_response(answer.body(body).unwrap(), now);
                        }
                        Reply::Transport(kind) => mint.handle_transport_error(TransportError::new(kind, "p"), now),
                    }
                    sent += 1;
                }
                Output::Solve(_) => prop_assert!(false, "a mint never solves"),
                Output::Wait(until) => {
                    now = until;
                    mint.handle_timeout(now);
                }
                Output::Done(result) => break result,
            }
        };
        // What the mint ended with is exactly what the next caller finds.
        let cached = matches!(state.mcp_token(&target, Want::Fresh, now), TokenStep::Ready(_));
        prop_assert_eq!(cached, done.is_ok());
        if let Err(e) = done {
            prop_assert!(!e.to_string().contains(TOKEN));
        }
    }
}
