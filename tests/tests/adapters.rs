//! One set of scenarios, run against both adapters over real loopback
//! sockets to the emulator. Each scenario is written once, generically.
#![forbid(unsafe_code)]

use std::time::Duration;

use lime_core::lime_pow::Scheme;
use lime_core::{
    Config, ConfigBuilder, Error, PowSchemeChoice, RequestStatus, drive::TransportErrorKind,
};
use lime_emulator::{BlockingEmulator, Emulator, Fault, OwnerKey, RawBody, Route};
use lime_tests::Adapter;

fn emulator(difficulty: i64) -> BlockingEmulator {
    Emulator::builder()
        .difficulty(difficulty)
        .start_blocking()
        .unwrap()
}

fn agent<A: Adapter>(emu: &Emulator, tweak: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> A {
    let builder = Config::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .env_lookup(|_| None);
    A::new(tweak(builder).build().unwrap())
}

fn plain<A: Adapter>(emu: &Emulator) -> A {
    agent(emu, |b| b)
}

fn logs_in_at_difficulty_15_and_20<A: Adapter>() {
    for difficulty in [15, 20] {
        let emu = emulator(difficulty);
        let id = emu.create_request();
        let approval = plain::<A>(&emu).login(&id).unwrap();
        assert_eq!(approval.request_id, id);
        assert_eq!(approval.status, RequestStatus::Approved);
        assert_eq!(approval.approved_agent_id.as_deref(), Some(emu.agent_id()));
        assert_eq!(emu.counters().approvals(&id), 1);
    }
}

fn both_schemes_in_auto_mode_with_and_without_pow_scheme<A: Adapter>() {
    for (scheme, hide) in [
        (Scheme::V1, false),
        (Scheme::Legacy, false),
        (Scheme::V1, true),
        (Scheme::Legacy, true),
    ] {
        let emu = Emulator::builder()
            .difficulty(10)
            .scheme(scheme)
            .hide_scheme(hide)
            .start_blocking()
            .unwrap();
        let id = emu.create_request();
        let result = plain::<A>(&emu).login(&id);
        assert!(result.is_ok(), "{scheme} hidden={hide}: {result:?}");
        let expected = if hide && scheme == Scheme::Legacy {
            2
        } else {
            1
        };
        assert_eq!(
            emu.counters().calls(Route::Approve),
            expected,
            "{scheme} hidden={hide}"
        );
    }
}

fn pinned_schemes_never_fall_back<A: Adapter>() {
    let emu = Emulator::builder()
        .difficulty(12)
        .scheme(Scheme::Legacy)
        .hide_scheme(true)
        .start_blocking()
        .unwrap();
    let id = emu.create_request();
    let result = agent::<A>(&emu, |b| b.pow_scheme(PowSchemeChoice::V1)).login(&id);
    if emu.counters().approvals(&id) == 0 {
        // (a 12-bit v1 nonce passes legacy by chance once in 4096 runs)
        assert_eq!(result.unwrap_err().code(), Some("INVALID_POW"));
        assert_eq!(emu.counters().calls(Route::Approve), 1);
    }
    let id = emu.create_request();
    agent::<A>(&emu, |b| b.pow_scheme(PowSchemeChoice::Legacy))
        .login(&id)
        .unwrap();
}

fn every_error_class<A: Adapter>() {
    let emu = Emulator::builder()
        .difficulty(6)
        .ttl(Duration::from_secs(300))
        .clock(lime_emulator::ManualClock::starting_now())
        .start_blocking()
        .unwrap();
    let id = emu.create_request();
    let wrong = A::new(
        Config::builder()
            .token("at_wrong-token")
            .base_url(emu.base_url())
            .env_lookup(|_| None)
            .build()
            .unwrap(),
    );
    assert!(matches!(
        wrong.login(&id),
        Err(Error::Authentication {
            http_status: Some(401),
            ..
        })
    ));
    assert!(matches!(wrong.profile(), Err(Error::Authentication { .. })));
    let a = plain::<A>(&emu);
    let err = a.login("lr_unknown").unwrap_err();
    assert_eq!(
        (err.code(), err.http_status()),
        (Some("LOGIN_REQUEST_NOT_FOUND"), Some(404))
    );
    assert!(matches!(a.login("a/b"), Err(Error::InvalidInput { .. })));
    emu.advance_clock(Duration::from_secs(301));
    assert!(matches!(a.login(&id), Err(Error::Expired { .. })));
    let id = emu.create_request();
    emu.inject(
        Route::Approve,
        Fault::Status {
            status: 429,
            retry_after: Some(0),
        },
        10,
    );
    assert!(matches!(
        agent::<A>(&emu, |b| b.max_retries(1)).login(&id),
        Err(Error::RateLimited { .. })
    ));
    emu.clear_faults();
    a.login(&id).unwrap();
    // Running it again is safe: this agent's own approval, from the read.
    let again = a.login(&id).unwrap();
    assert_eq!(again.approved_agent_id.as_deref(), Some(emu.agent_id()));
    assert_eq!(emu.counters().approvals(&id), 1, "not approved twice");
}

fn retry_matrix_from_emulator_counters<A: Adapter>() {
    for status in [408u16, 429, 500, 502, 503, 504] {
        let emu = emulator(4);
        emu.inject_always(
            Route::ReadRequest,
            Fault::Status {
                status,
                retry_after: Some(0),
            },
        );
        let id = emu.create_request();
        let err = plain::<A>(&emu).login(&id).unwrap_err();
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(
            emu.counters().calls(Route::ReadRequest),
            4,
            "status {status}"
        );
    }
    for status in [400u16, 403, 404, 409, 410] {
        let emu = emulator(4);
        emu.inject_always(
            Route::ReadRequest,
            Fault::Status {
                status,
                retry_after: None,
            },
        );
        let id = emu.create_request();
        assert!(plain::<A>(&emu).login(&id).is_err());
        assert_eq!(
            emu.counters().calls(Route::ReadRequest),
            1,
            "status {status}"
        );
    }
    // A dropped connection and a timeout are retried too.
    let emu = emulator(4);
    emu.inject(Route::ReadRequest, Fault::Drop, 1);
    emu.inject(
        Route::Profile,
        Fault::DelayHeaders(Duration::from_secs(3)),
        1,
    );
    let id = emu.create_request();
    let a = agent::<A>(&emu, |b| b.timeout(Duration::from_millis(200)));
    a.login(&id).unwrap();
    assert_eq!(emu.counters().calls(Route::ReadRequest), 2);
    a.profile().unwrap();
    assert_eq!(emu.counters().calls(Route::Profile), 2);
}

fn a_trickling_body_is_cut_at_the_attempt_deadline_and_retried<A: Adapter>() {
    let emu = emulator(4);
    // The jwks-sized read answer, 16 bytes every 100 ms: far past 300 ms.
    emu.inject(
        Route::ReadRequest,
        Fault::TrickleBody {
            chunk: 16,
            interval: Duration::from_millis(100),
        },
        2,
    );
    let id = emu.create_request();
    let a = agent::<A>(&emu, |b| b.timeout(Duration::from_millis(300)));
    a.login(&id).unwrap();
    assert_eq!(
        emu.counters().calls(Route::ReadRequest),
        3,
        "two cut attempts, then a whole answer"
    );
    // With no retries left, the cut attempt is the error.
    emu.inject(
        Route::ReadRequest,
        Fault::TrickleBody {
            chunk: 16,
            interval: Duration::from_millis(100),
        },
        1,
    );
    let id = emu.create_request();
    let err = agent::<A>(&emu, |b| {
        b.timeout(Duration::from_millis(300)).max_retries(0)
    })
    .login(&id)
    .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind() == TransportErrorKind::Timeout),
        "{err:?}"
    );
}

fn retry_after_is_honoured<A: Adapter>() {
    let emu = emulator(4);
    emu.inject(
        Route::ReadRequest,
        Fault::Status {
            status: 503,
            retry_after: Some(1),
        },
        1,
    );
    let id = emu.create_request();
    let started = std::time::Instant::now();
    plain::<A>(&emu).login(&id).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the server's Retry-After"
    );
    assert_eq!(emu.counters().calls(Route::ReadRequest), 2);
}

fn an_ambiguous_approve_is_reconciled_without_a_second_approval<A: Adapter>() {
    let emu = emulator(8);
    emu.inject(Route::Approve, Fault::ProcessThenDrop, 1);
    let id = emu.create_request();
    let approval = plain::<A>(&emu).login(&id).unwrap();
    assert_eq!(approval.approved_agent_id.as_deref(), Some(emu.agent_id()));
    let c = emu.counters();
    assert_eq!(
        (
            c.approvals(&id),
            c.calls(Route::Approve),
            c.calls(Route::Profile)
        ),
        (1, 1, 1)
    );
}

fn a_pow_timeout_is_its_own_error<A: Adapter>() {
    let emu = emulator(64);
    let id = emu.create_request();
    let result = agent::<A>(&emu, |b| b.pow_timeout(Duration::from_millis(100))).login(&id);
    assert!(
        matches!(result, Err(Error::PowTimeout { difficulty: 64, .. })),
        "{result:?}"
    );
    assert_eq!(emu.counters().calls(Route::Approve), 0);
}

fn a_redirecting_server_never_receives_the_token<A: Adapter>() {
    for route in [Route::Approve, Route::Profile, Route::ReadRequest] {
        let emu = emulator(4);
        emu.inject_always(route, Fault::Redirect { status: 307 });
        let id = emu.create_request();
        let a = plain::<A>(&emu);
        let err = if route == Route::Profile {
            a.profile().unwrap_err()
        } else {
            a.login(&id).unwrap_err()
        };
        assert!(
            matches!(
                err,
                Error::InvalidResponse {
                    http_status: Some(307),
                    ..
                }
            ),
            "{route}: {err:?}"
        );
        let c = emu.counters();
        assert_eq!((c.redirect_hits, c.redirect_token_seen), (0, 0), "{route}");
    }
}

fn oversized_and_endless_bodies_end_in_typed_errors<A: Adapter>() {
    let emu = emulator(4);
    emu.inject_always(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: vec![],
            body: RawBody::Repeat {
                byte: b' ',
                len: 3_000_000,
            },
        },
    );
    let id = emu.create_request();
    assert!(matches!(
        plain::<A>(&emu).login(&id),
        Err(Error::InvalidResponse { .. })
    ));
    assert_eq!(emu.counters().calls(Route::ReadRequest), 1);

    let emu = emulator(4);
    emu.inject_always(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: vec![],
            body: RawBody::Endless,
        },
    );
    let id = emu.create_request();
    let err = agent::<A>(&emu, |b| {
        b.timeout(Duration::from_millis(150)).max_retries(1)
    })
    .login(&id)
    .unwrap_err();
    match err {
        Error::Transport(t) => assert_eq!(t.kind(), TransportErrorKind::Timeout),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.counters().calls(Route::ReadRequest), 2);
}

/// A head past both adapters' limits (lime-blocking's 32 KiB, hyper's
/// 408 KiB) is a transport error that says so, after the retries.
fn an_oversized_head_ends_in_a_typed_error<A: Adapter>() {
    let emu = emulator(4);
    let big = "x".repeat(100 * 1024);
    emu.inject_always(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: (0..5)
                .map(|i| (format!("x-big-{i}"), big.clone()))
                .collect(),
            body: RawBody::Bytes(b"{}".to_vec()),
        },
    );
    let id = emu.create_request();
    let err = agent::<A>(&emu, |b| b.max_retries(1))
        .login(&id)
        .unwrap_err();
    match &err {
        Error::Transport(t) => {
            assert_eq!(t.attempts(), 2, "{t}");
            assert!(
                t.to_string().contains("too"),
                "says the head is too large: {t}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.counters().calls(Route::ReadRequest), 2);
}

fn the_profile_is_read_with_either_owner_spelling<A: Adapter>() {
    for key in [OwnerKey::UserId, OwnerKey::OwnerId] {
        let emu = Emulator::builder().owner_key(key).start_blocking().unwrap();
        let profile = plain::<A>(&emu).profile().unwrap();
        assert_eq!(profile.agent_id, emu.agent_id());
        assert_eq!(profile.owner_id, format!("user_{}", emu.agent_id()));
    }
}

fn https_with_the_emulators_generated_ca<A: Adapter>() {
    let emu = Emulator::builder()
        .difficulty(8)
        .tls(lime_emulator::TlsSource::Generated)
        .start_blocking()
        .unwrap();
    assert!(emu.base_url().starts_with("https://127.0.0.1:"));
    let ca = emu.ca_pem().unwrap().to_owned();
    let config = || {
        Config::builder()
            .token(emu.agent_token())
            .base_url(emu.base_url())
            .env_lookup(|_| None)
    };
    let id = emu.create_request();
    let approval = A::trusting(config(), &ca).login(&id).unwrap();
    assert_eq!(approval.request_id, id);
    // Without the CA the certificate is refused, once, as a TLS error.
    let id = emu.create_request();
    let err = A::new(config().build().unwrap()).login(&id).unwrap_err();
    match err {
        Error::Transport(t) => {
            assert_eq!(t.kind(), TransportErrorKind::Tls, "{t}");
            // The message says how to fix it.
            assert!(t.to_string().contains("add_root_certificates_pem"), "{t}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        emu.counters().calls(Route::ReadRequest),
        1,
        "TLS failures are not retried"
    );
}

/// A CONNECT proxy that records the tunnels asked for and every byte the
/// client sent through them.
struct ConnectProxy {
    url: String,
    targets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    relayed: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _runtime: tokio::runtime::Runtime,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let targets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let relayed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (t, r) = (targets.clone(), relayed.clone());
        runtime.spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let (t, r) = (t.clone(), r.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
                    t.lock()
                        .unwrap()
                        .push(head.lines().next().unwrap_or_default().to_owned());
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .unwrap();
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.split();
                    let up = async {
                        let mut buf = [0u8; 4096];
                        loop {
                            let n = cr.read(&mut buf).await.unwrap_or(0);
                            if n == 0 || uw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                            r.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                    };
                    let down = tokio::io::copy(&mut ur, &mut cw);
                    let _ = tokio::join!(up, down);
                });
            }
        });
        ConnectProxy {
            url,
            targets,
            relayed,
            _runtime: runtime,
        }
    }
}

fn https_through_a_connect_proxy_that_sees_only_the_tunnel<A: Adapter>() {
    let emu = Emulator::builder()
        .difficulty(8)
        .tls(lime_emulator::TlsSource::Generated)
        .start_blocking()
        .unwrap();
    let proxy = ConnectProxy::start();
    let config = Config::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .env_lookup(|_| None)
        .https_proxy(&proxy.url, "");
    let id = emu.create_request();
    let approval = A::trusting(config, emu.ca_pem().unwrap())
        .login(&id)
        .unwrap();
    assert_eq!(approval.request_id, id);
    let targets = proxy.targets.lock().unwrap().clone();
    let authority = emu
        .base_url()
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(!targets.is_empty());
    assert!(
        targets
            .iter()
            .all(|t| t == &format!("CONNECT {authority} HTTP/1.1")),
        "{targets:?}"
    );
    let relayed = proxy.relayed.lock().unwrap().clone();
    assert!(relayed.len() > 100, "the requests went through the tunnel");
    let seen = String::from_utf8_lossy(&relayed);
    assert!(
        !seen.contains(emu.agent_token()) && !seen.contains("/api/v1"),
        "the proxy saw plaintext"
    );
}

/// `Duration::MAX` is a common "no limit": every duration setting takes it
/// (and the emulator's ttl) without overflowing an `Instant`.
fn duration_max_everywhere_means_no_limit<A: Adapter>() {
    let emu = Emulator::builder()
        .difficulty(8)
        .ttl(Duration::MAX)
        .start_blocking()
        .unwrap();
    let config = Config::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .timeout(Duration::MAX)
        .pow_timeout(Duration::MAX)
        .deadline(Duration::MAX)
        .env_lookup(|_| None)
        .build()
        .unwrap();
    let agent = A::new(config);
    let id = emu.create_request();
    assert_eq!(agent.login(&id).unwrap().request_id, id);
    agent.profile().unwrap();
}

/// A server that is down: the error names the request and the attempts.
fn a_failed_request_names_its_method_url_and_attempts<A: Adapter>() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let agent = A::new(
        Config::builder()
            .token("at_some-token")
            .base_url(format!("http://127.0.0.1:{port}/api/v1"))
            .max_retries(2)
            .env_lookup(|_| None)
            .build()
            .unwrap(),
    );
    let message = agent.login("lr_down").unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "GET http://127.0.0.1:{port}/api/v1/auth/requests/lr_down failed after 3 attempts: connection failed"
        )),
        "{message}"
    );
}

/// A host that does not resolve is reported once, not retried.
fn an_unresolvable_host_is_not_retried<A: Adapter>() {
    let agent = A::new(
        Config::builder()
            .token("at_some-token")
            .base_url("https://lime-sdk-test.invalid/api/v1")
            .max_retries(3)
            .no_proxy()
            .env_lookup(|_| None)
            .build()
            .unwrap(),
    );
    match agent.profile() {
        Err(Error::Transport(t)) => {
            assert_eq!(t.kind(), TransportErrorKind::Dns, "{t}");
            assert_eq!(t.attempts(), 1, "{t}");
            assert!(t.to_string().contains("GET https://lime-sdk-test.invalid/api/v1/core/agents/me/profile failed after 1 attempt"), "{t}");
        }
        other => panic!("{other:?}"),
    }
}

lime_tests::for_both_adapters!(
    a_failed_request_names_its_method_url_and_attempts,
    an_unresolvable_host_is_not_retried,
    duration_max_everywhere_means_no_limit,
    logs_in_at_difficulty_15_and_20,
    both_schemes_in_auto_mode_with_and_without_pow_scheme,
    pinned_schemes_never_fall_back,
    every_error_class,
    retry_matrix_from_emulator_counters,
    retry_after_is_honoured,
    a_trickling_body_is_cut_at_the_attempt_deadline_and_retried,
    an_ambiguous_approve_is_reconciled_without_a_second_approval,
    a_pow_timeout_is_its_own_error,
    a_redirecting_server_never_receives_the_token,
    oversized_and_endless_bodies_end_in_typed_errors,
    an_oversized_head_ends_in_a_typed_error,
    the_profile_is_read_with_either_owner_spelling,
    https_with_the_emulators_generated_ca,
    https_through_a_connect_proxy_that_sees_only_the_tunnel,
);
