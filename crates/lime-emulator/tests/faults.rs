//! Every fault mode behaves as configured, over real sockets; and the
//! emulator carries 1,000 concurrent login cycles.
#![forbid(unsafe_code)]

mod common;

use std::time::{Duration, Instant};

use common::{approve_body, call, solve};
use lime_emulator::{Emulator, Fault, RawBody, Route};
use lime_pow::Scheme;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_faults_apply_to_the_next_calls_only_with_retry_after() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.inject(
        Route::ReadRequest,
        Fault::Status {
            status: 503,
            retry_after: Some(2),
        },
        2,
    );
    let id = emu.create_request();
    let path = format!("/auth/requests/{id}");
    for _ in 0..2 {
        let r = call(emu.local_addr(), "GET", &path, &[], b"")
            .await
            .unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.headers["retry-after"], "2");
        assert_eq!(r.code(), "AUTH_UNAVAILABLE");
    }
    assert_eq!(
        call(emu.local_addr(), "GET", &path, &[], b"")
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(emu.counters().calls(Route::ReadRequest), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_gets_no_answer() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.inject(Route::Profile, Fault::Drop, 1);
    assert!(
        call(emu.local_addr(), "GET", "/core/agents/me/profile", &[], b"")
            .await
            .is_err()
    );
    let r = call(
        emu.local_addr(),
        "GET",
        "/core/agents/me/profile",
        &[("x-agent-token", emu.agent_token())],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_then_drop_approves_but_never_answers() {
    let emu = Emulator::builder().difficulty(6).start().await.unwrap();
    let id = emu.create_request();
    let nonce = solve(emu.local_addr(), &id, Scheme::V1).await;
    emu.inject(Route::Approve, Fault::ProcessThenDrop, 1);
    let path = format!("/modules/agent-login/requests/{id}/approve");
    let r = call(
        emu.local_addr(),
        "POST",
        &path,
        &[("x-agent-token", emu.agent_token())],
        &approve_body(&nonce),
    )
    .await;
    assert!(r.is_err(), "the client sees a dropped connection");
    assert_eq!(
        emu.counters().approvals(&id),
        1,
        "but the approval happened"
    );
    assert_eq!(emu.request_status(&id), Some("APPROVED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delays_and_trickles_slow_the_answer_down() {
    let emu = Emulator::builder().start().await.unwrap();
    let jwks = "/core/.well-known/jwks.json";
    emu.inject(
        Route::Jwks,
        Fault::DelayHeaders(Duration::from_millis(300)),
        1,
    );
    let started = Instant::now();
    let r = call(emu.local_addr(), "GET", jwks, &[], b"").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.json()["keys"][0]["alg"], "RS256");

    emu.inject(
        Route::Jwks,
        Fault::TrickleBody {
            chunk: 64,
            interval: Duration::from_millis(20),
        },
        1,
    );
    let started = Instant::now();
    let trickled = call(emu.local_addr(), "GET", jwks, &[], b"").await.unwrap();
    assert_eq!(trickled.body, r.body, "the same body, slowly");
    let chunks = r.body.len().div_ceil(64) as u32;
    assert!(started.elapsed() >= Duration::from_millis(20) * (chunks - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_points_at_another_origin_that_counts_tokens() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.inject(Route::Profile, Fault::Redirect { status: 307 }, 1);
    let r = call(
        emu.local_addr(),
        "GET",
        "/core/agents/me/profile",
        &[("x-agent-token", emu.agent_token())],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 307);
    let location = r.headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:"));
    assert!(!location.starts_with(emu.origin()), "another origin");
    // A client that (wrongly) follows it with the token is counted.
    let target: std::net::SocketAddr = location
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let follow = |token: bool| {
        let location = location.clone();
        let token_value = emu.agent_token().to_owned();
        async move {
            let path = location.split_once("/api/v1").unwrap().1.to_owned();
            let headers: Vec<(&str, &str)> = if token {
                vec![("x-agent-token", token_value.as_str())]
            } else {
                vec![]
            };
            call(target, "GET", &path, &headers, b"").await.unwrap();
        }
    };
    follow(false).await;
    follow(true).await;
    let c = emu.counters();
    assert_eq!((c.redirect_hits, c.redirect_token_seen), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_responses_are_sent_byte_for_byte_and_huge_or_endless_bodies_stream() {
    let emu = Emulator::builder().start().await.unwrap();
    let id = emu.create_request();
    let path = format!("/auth/requests/{id}");
    emu.inject(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: vec![("x-raw".into(), "1".into())],
            body: RawBody::Bytes(b"[1,2,3]".to_vec()),
        },
        1,
    );
    let r = call(emu.local_addr(), "GET", &path, &[], b"")
        .await
        .unwrap();
    assert_eq!(
        (r.status, &r.body[..], r.headers["x-raw"].to_str().unwrap()),
        (200, &b"[1,2,3]"[..], "1")
    );

    emu.inject(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: vec![],
            body: RawBody::Repeat {
                byte: b'a',
                len: 3_000_000,
            },
        },
        1,
    );
    let r = call(emu.local_addr(), "GET", &path, &[], b"")
        .await
        .unwrap();
    assert_eq!(r.body.len(), 3_000_000);

    emu.inject(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: vec![],
            body: RawBody::Endless,
        },
        1,
    );
    let endless = tokio::time::timeout(
        Duration::from_millis(300),
        call(emu.local_addr(), "GET", &path, &[], b""),
    )
    .await;
    assert!(endless.is_err(), "an endless body never completes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_every_nth_faults_hit_the_share_asked_for() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.rate_limit(Route::Jwks, 5);
    let mut limited = 0;
    for _ in 0..8 {
        let r = call(
            emu.local_addr(),
            "GET",
            "/core/.well-known/jwks.json",
            &[],
            b"",
        )
        .await
        .unwrap();
        if r.status == 429 {
            assert_eq!(r.headers["retry-after"], "1");
            limited += 1;
        }
    }
    assert_eq!(limited, 3);
    emu.clear_faults();
    emu.inject_every(
        Route::Other,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        4,
    );
    let mut failed = 0;
    for _ in 0..12 {
        if call(emu.local_addr(), "GET", "/x", &[], b"")
            .await
            .unwrap()
            .status
            == 500
        {
            failed += 1;
        }
    }
    assert_eq!(failed, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_login_cycles_each_approve_exactly_once() {
    let emu = Emulator::builder().difficulty(4).start().await.unwrap();
    let addr = emu.local_addr();
    let token = emu.agent_token().to_owned();
    let ids: Vec<String> = (0..1000).map(|_| emu.create_request()).collect();
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let token = token.clone();
            tokio::spawn(async move {
                let nonce = solve(addr, &id, Scheme::V1).await;
                let path = format!("/modules/agent-login/requests/{id}/approve");
                call(
                    addr,
                    "POST",
                    &path,
                    &[("x-agent-token", &token)],
                    &approve_body(&nonce),
                )
                .await
                .unwrap()
                .status
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let counters = emu.counters();
    for id in &ids {
        assert_eq!(counters.approvals(id), 1);
        assert_eq!(emu.request_status(id), Some("APPROVED"));
    }
    assert_eq!(counters.calls(Route::Approve), 1000);
}
