//! The emulator over real loopback sockets: endpoints, errors in precedence
//! order, both schemes, the lifecycle, passports and the event stream.
#![forbid(unsafe_code)]

mod common;

use std::time::Duration;

use common::{approve_body, call, create, open_stream, solve};
use lime_emulator::{Emulator, OwnerKey, passport};
use lime_pow::Scheme;

fn approve_path(id: &str) -> String {
    format!("/modules/agent-login/requests/{id}/approve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cycle_reaches_delivered_with_a_verified_passport() {
    let emu = Emulator::builder().difficulty(8).start().await.unwrap();
    let created = create(emu.local_addr(), emu.site_token()).await.unwrap();
    let mut events = open_stream(emu.local_addr(), emu.site_token(), None)
        .await
        .unwrap();

    let read = call(
        emu.local_addr(),
        "GET",
        &format!("/auth/requests/{}", created),
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(read.status, 200);
    let data = &read.json()["data"];
    assert_eq!(data["status"], "PENDING");
    assert_eq!(data["pow_scheme"], "v1");
    assert_eq!(data["pow_difficulty"], 8);
    assert_eq!(data["site_id"], emu.site_id());
    assert!(data["approved_agent_id"].is_null());
    assert_eq!(data["pow_challenge"].as_str().unwrap().len(), 32);

    let nonce = solve(emu.local_addr(), &created, Scheme::V1).await;
    let approved = call(
        emu.local_addr(),
        "POST",
        &approve_path(&created),
        &[
            ("x-agent-token", emu.agent_token()),
            ("content-type", "application/json"),
        ],
        &approve_body(&nonce),
    )
    .await
    .unwrap();
    assert_eq!(approved.status, 200, "{:?}", approved.json());
    let data = &approved.json()["data"];
    assert_eq!(data["approved_agent_id"], emu.agent_id());
    assert!(data["status"] == "APPROVED" || data["status"] == "DELIVERED");

    let (event_id, event) = events
        .wait_for(&created, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(event["type"], "approved", "{event}");
    let jwt = event["agent_passport_jwt"].as_str().unwrap().to_owned();
    assert!(event_id.is_some());
    let jwks = call(
        emu.local_addr(),
        "GET",
        "/core/.well-known/jwks.json",
        &[],
        b"",
    )
    .await
    .unwrap()
    .json();
    assert_eq!(jwks, emu.jwks());
    // The SDK's own check, the one sites run, accepts it.
    use lime_core::site::{Expected, KeySet, verify_passport};
    let keys = KeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    let check = |token: &str, issuer: &str, now: i64| {
        let expected = Expected::new(issuer, created.as_str());
        verify_passport(token, &keys, &expected, now, &lime_tls::ProviderRs256)
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verified = check(&jwt, emu.origin(), now).unwrap();
    assert_eq!(verified.agent_id, emu.agent_id());
    assert_eq!(verified.request_id, created.as_str());
    assert!(emu.origin().starts_with("http://127.0.0.1:"));
    // A tampered passport or a different issuer fails.
    assert!(check(&jwt, "http://127.0.0.1:1", now).is_err());
    let mut tampered = jwt.clone();
    tampered.insert(jwt.len() / 2, 'x');
    assert!(check(&tampered, emu.origin(), now).is_err());
    assert!(
        check(&jwt, emu.origin(), now + 121).is_err(),
        "expired after 120 s"
    );

    assert_eq!(emu.request_status(&created), Some("DELIVERED"));
    assert_eq!(emu.counters().approvals(&created), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_errors_come_in_protocol_order() {
    let emu = Emulator::builder()
        .difficulty(12)
        .ttl(Duration::from_secs(300))
        .clock(lime_emulator::ManualClock::starting_now())
        .start()
        .await
        .unwrap();
    let addr = emu.local_addr();
    let token = emu.agent_token().to_owned();
    let auth = [("x-agent-token", token.as_str())];
    let id = emu.create_request();
    let expired = emu.create_request();
    let good = solve(addr, &id, Scheme::V1).await;

    // 401 before everything, even for an unknown id and a bad body.
    let r = call(addr, "POST", &approve_path("lr_nope"), &[], b"{")
        .await
        .unwrap();
    assert_eq!((r.status, r.code().as_str()), (401, "MISSING_AGENT_TOKEN"));
    let r = call(
        addr,
        "POST",
        &approve_path("lr_nope"),
        &[("x-agent-token", "at_wrong")],
        b"{",
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.code().as_str()), (401, "INVALID_AGENT_TOKEN"));
    // 404 before the body.
    let r = call(addr, "POST", &approve_path("lr_nope"), &auth, b"{")
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "LOGIN_REQUEST_NOT_FOUND")
    );
    // Body problems, then the PoW.
    let r = call(addr, "POST", &approve_path(&id), &auth, b"{not json")
        .await
        .unwrap();
    assert_eq!((r.status, r.code().as_str()), (400, "INVALID_JSON"));
    let r = call(
        addr,
        "POST",
        &approve_path(&id),
        &auth,
        br#"{"pow_nonce": 5}"#,
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.code().as_str()), (400, "VALIDATION_ERROR"));
    let r = call(addr, "POST", &approve_path(&id), &auth, br#"{}"#)
        .await
        .unwrap();
    assert_eq!((r.status, r.code().as_str()), (400, "VALIDATION_ERROR"));
    let (challenge, difficulty) = futures_like_read(&emu, &id);
    let wrong = (0u64..)
        .map(|n| n.to_string())
        .find(|n| !lime_pow::verify(Scheme::V1, &challenge, n, difficulty))
        .unwrap();
    let r = call(
        addr,
        "POST",
        &approve_path(&id),
        &auth,
        &approve_body(&wrong),
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.code().as_str()), (400, "INVALID_POW"));
    assert_eq!(
        emu.request_status(&id),
        Some("PENDING"),
        "a wrong nonce leaves the request pending"
    );
    // Success, then 409 for the next, even with a bad body.
    let r = call(
        addr,
        "POST",
        &approve_path(&id),
        &auth,
        &approve_body(&good),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let r = call(addr, "POST", &approve_path(&id), &auth, b"{bad")
        .await
        .unwrap();
    assert_eq!((r.status, r.code().as_str()), (409, "SITE_LOGIN_CONFLICT"));
    // 410 once expired, before the body.
    emu.advance_clock(Duration::from_secs(301));
    let r = call(addr, "POST", &approve_path(&expired), &auth, b"{bad")
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (410, "LOGIN_REQUEST_EXPIRED")
    );
    assert_eq!(emu.request_status(&expired), Some("EXPIRED"));
    // Over-limit bodies and unknown routes.
    let big = vec![b' '; lime_emulator::MAX_REQUEST_BODY + 1];
    let other = emu.create_request();
    let r = call(addr, "POST", &approve_path(&other), &auth, &big)
        .await
        .unwrap();
    assert_eq!((r.status, r.code().as_str()), (413, "PAYLOAD_TOO_LARGE"));
    let r = call(addr, "GET", "/no/such/thing", &[], b"").await.unwrap();
    assert_eq!((r.status, r.code().as_str()), (404, "NOT_FOUND"));
    let r = call(addr, "GET", "/auth/requests/lr_missing", &[], b"")
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "LOGIN_REQUEST_NOT_FOUND")
    );
}

/// The challenge and difficulty of a request, read through the public endpoint.
fn futures_like_read(emu: &Emulator, id: &str) -> (String, i64) {
    let addr = emu.local_addr();
    let id = id.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let r = call(addr, "GET", &format!("/auth/requests/{id}"), &[], b"")
                .await
                .unwrap();
            let d = &r.json()["data"];
            (
                d["pow_challenge"].as_str().unwrap().to_owned(),
                d["pow_difficulty"].as_i64().unwrap(),
            )
        })
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_scheme_and_a_hidden_scheme_are_verified_as_configured() {
    let emu = Emulator::builder()
        .difficulty(8)
        .scheme(Scheme::Legacy)
        .hide_scheme(true)
        .start()
        .await
        .unwrap();
    let addr = emu.local_addr();
    let id = emu.create_request();
    let read = call(addr, "GET", &format!("/auth/requests/{id}"), &[], b"")
        .await
        .unwrap();
    assert!(read.json()["data"].get("pow_scheme").is_none());
    let auth = [("x-agent-token", emu.agent_token())];
    let v1 = solve(addr, &id, Scheme::V1).await;
    let legacy = solve(addr, &id, Scheme::Legacy).await;
    let (challenge, difficulty) = futures_like_read(&emu, &id);
    if !lime_pow::verify(Scheme::Legacy, &challenge, &v1, difficulty) {
        let r = call(addr, "POST", &approve_path(&id), &auth, &approve_body(&v1))
            .await
            .unwrap();
        assert_eq!(r.code(), "INVALID_POW");
    }
    let r = call(
        addr,
        "POST",
        &approve_path(&id),
        &auth,
        &approve_body(&legacy),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_names_the_owner_as_configured() {
    for (key, field) in [
        (OwnerKey::UserId, "user_id"),
        (OwnerKey::OwnerId, "owner_id"),
    ] {
        let emu = Emulator::builder()
            .owner_key(key)
            .agent("agent_7", "at_seven-token")
            .start()
            .await
            .unwrap();
        let r = call(
            emu.local_addr(),
            "GET",
            "/core/agents/me/profile",
            &[("x-agent-token", "at_seven-token")],
            b"",
        )
        .await
        .unwrap();
        let data = &r.json()["data"];
        assert_eq!(data["agent_id"], "agent_7");
        assert_eq!(data[field], "user_agent_7");
        let other = if field == "user_id" {
            "owner_id"
        } else {
            "user_id"
        };
        assert!(data.get(other).is_none());
        let r = call(emu.local_addr(), "GET", "/core/agents/me/profile", &[], b"")
            .await
            .unwrap();
        assert_eq!((r.status, r.code().as_str()), (401, "MISSING_AGENT_TOKEN"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_tokens_are_checked() {
    let emu = Emulator::builder().start().await.unwrap();
    let r = call(
        emu.local_addr(),
        "POST",
        "/modules/agent-login/requests",
        &[],
        b"{}",
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.code().as_str()), (401, "SITE_TOKEN_MISSING"));
    let refused = create(emu.local_addr(), "st_wrong").await.unwrap_err();
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (401, "SITE_TOKEN_INVALID")
    );
    let refused = open_stream(emu.local_addr(), "st_wrong", None)
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_approvals_of_one_request_have_exactly_one_winner() {
    let emu = Emulator::builder().difficulty(4).start().await.unwrap();
    let addr = emu.local_addr();
    let id = emu.create_request();
    let nonce = solve(addr, &id, Scheme::V1).await;
    let token = emu.agent_token().to_owned();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (id, nonce, token) = (id.clone(), nonce.clone(), token.clone());
            tokio::spawn(async move {
                call(
                    addr,
                    "POST",
                    &approve_path(&id),
                    &[("x-agent-token", &token)],
                    &approve_body(&nonce),
                )
                .await
                .unwrap()
                .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 409).count(), 31);
    assert_eq!(emu.counters().approvals(&id), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_a_stream_and_replay_after_last_event_id() {
    let emu = Emulator::builder()
        .difficulty(4)
        .keepalive(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let addr = emu.local_addr();
    let token = emu.site_token();
    let id = emu.create_request();
    let nonce = solve(addr, &id, Scheme::V1).await;
    let r = call(
        addr,
        "POST",
        &approve_path(&id),
        &[("x-agent-token", emu.agent_token())],
        &approve_body(&nonce),
    )
    .await
    .unwrap();
    assert_eq!(
        r.json()["data"]["status"],
        "APPROVED",
        "no stream: not delivered yet"
    );
    assert_eq!(emu.request_status(&id), Some("APPROVED"));

    let mut stream = open_stream(addr, token, None).await.unwrap();
    let (Some(event_id), first) = stream.wait_for(&id, Duration::from_secs(5)).await.unwrap()
    else {
        panic!("an event without an id")
    };
    assert_eq!(first["type"], "approved");
    assert_eq!(emu.request_status(&id), Some("DELIVERED"));
    // Keepalives flow on an idle stream.
    let keepalive = stream.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(keepalive.1["type"], "keepalive");
    drop(stream);

    // A second stream without Last-Event-ID does not get the delivered event again…
    let id2 = emu.create_request();
    let nonce2 = solve(addr, &id2, Scheme::V1).await;
    call(
        addr,
        "POST",
        &approve_path(&id2),
        &[("x-agent-token", emu.agent_token())],
        &approve_body(&nonce2),
    )
    .await
    .unwrap();
    let mut fresh = open_stream(addr, token, None).await.unwrap();
    let next = fresh.wait_for(&id2, Duration::from_secs(5)).await.unwrap();
    assert_eq!(next.1["type"], "approved");
    // …while Last-Event-ID replays every later event.
    let mut resumed = open_stream(addr, token, Some(&event_id)).await.unwrap();
    let replayed = resumed
        .wait_for(&id2, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(replayed.1["type"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_expire_with_an_event() {
    let emu = Emulator::builder()
        .ttl(Duration::from_secs(300))
        .clock(lime_emulator::ManualClock::starting_now())
        .start()
        .await
        .unwrap();
    let mut stream = open_stream(emu.local_addr(), emu.site_token(), None)
        .await
        .unwrap();
    let created = create(emu.local_addr(), emu.site_token()).await.unwrap();
    emu.advance_clock(Duration::from_secs(299));
    assert_eq!(emu.request_status(&created), Some("PENDING"));
    emu.advance_clock(Duration::from_secs(1));
    let event = stream
        .wait_for(&created, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(event.1["type"], "expired", "{event:?}");
    assert_eq!(emu.request_status(&created), Some("EXPIRED"));
    let read = call(
        emu.local_addr(),
        "GET",
        &format!("/auth/requests/{}", created),
        &[],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(read.json()["data"]["status"], "EXPIRED");
}

#[test]
fn a_blocking_emulator_serves_from_its_own_runtime() {
    let emu = Emulator::builder().difficulty(4).start_blocking().unwrap();
    let id = emu.create_request();
    let addr = emu.local_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read = rt
        .block_on(call(addr, "GET", &format!("/auth/requests/{id}"), &[], b""))
        .unwrap();
    assert_eq!(read.status, 200);
    drop(emu);
    assert!(
        rt.block_on(call(addr, "GET", "/auth/requests/x", &[], b""))
            .is_err(),
        "stopped on drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_endpoint_mints_per_policy_and_is_never_cached() {
    let emu = Emulator::builder()
        .agent("agent_a", "at_granted")
        .agent_without_mcp_grant("agent_b", "at_refused")
        .mcp_token_ttl(Duration::from_secs(42))
        .start()
        .await
        .unwrap();
    let mint = |token: &'static str, body: &'static str| {
        let addr = emu.local_addr();
        async move {
            let headers: Vec<(&str, &str)> = if token.is_empty() {
                vec![]
            } else {
                vec![("x-agent-token", token)]
            };
            call(
                addr,
                "POST",
                "/modules/oauth/token",
                &headers,
                body.as_bytes(),
            )
            .await
            .unwrap()
        }
    };
    let ok = mint("at_granted", r#"{"domain":"mcp.example.com"}"#).await;
    assert_eq!(ok.status, 200);
    let body = ok.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "exactly three keys: {body}");
    assert_eq!(body["expires_in"], 42);
    let claims =
        passport::verify_signature(body["access_token"].as_str().unwrap(), &emu.jwks()).unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["domain"].as_str()),
        (Some("agent_a"), Some("mcp.example.com"))
    );
    let cases = [
        ("", r#"{"domain":"mcp.example.com"}"#, 401, "invalid_client"),
        (
            "at_wrong",
            r#"{"domain":"mcp.example.com"}"#,
            401,
            "invalid_client",
        ),
        (
            "at_refused",
            r#"{"domain":"mcp.example.com"}"#,
            403,
            "access_denied",
        ),
        (
            "at_granted",
            r#"{"domain":"127.0.0.1"}"#,
            400,
            "invalid_request",
        ),
        (
            "at_granted",
            r#"{"domain":"metadata.google.internal"}"#,
            400,
            "invalid_request",
        ),
        (
            "at_granted",
            r#"{"domain":"MCP.example.com"}"#,
            400,
            "invalid_request",
        ),
        (
            "at_granted",
            r#"{"domain":"mcp.example.com:443"}"#,
            400,
            "invalid_request",
        ),
        ("at_granted", r#"{"domain":7}"#, 400, "invalid_request"),
        ("at_granted", "not json", 400, "invalid_request"),
    ];
    for (token, body, status, error) in cases {
        let reply = mint(token, body).await;
        assert_eq!(
            (reply.status, reply.json()["error"].as_str()),
            (status, Some(error)),
            "{token} {body}"
        );
    }
    for reply in [ok, mint("at_refused", r#"{"domain":"a.example"}"#).await] {
        assert_eq!(reply.headers["cache-control"], "no-store");
        assert_eq!(reply.headers["pragma"], "no-cache");
    }
    let counters = emu.counters();
    assert_eq!(
        counters.mints("mcp.example.com"),
        1,
        "only the granted, valid mint counts"
    );
    assert_eq!(counters.calls(lime_emulator::Route::OAuthToken), 11);
}
