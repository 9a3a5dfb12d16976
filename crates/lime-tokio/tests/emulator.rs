//! lime-tokio against the emulator over real loopback sockets.

use std::time::Duration;

use lime_core::TransportErrorKind;
use lime_emulator::{Emulator, Fault, RawBody, Route};

use lime_tokio::{Error, LimeAgent, PowSchemeChoice, RequestStatus};

use lime_core::lime_pow::Scheme;

async fn emulator(difficulty: i64) -> Emulator {
    Emulator::builder()
        .difficulty(difficulty)
        .start()
        .await
        .unwrap()
}

fn agent(emu: &Emulator) -> LimeAgent {
    LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_at_difficulty_15_and_20() {
    for difficulty in [15, 20] {
        let emu = emulator(difficulty).await;
        let id = emu.create_request();
        let approval = agent(&emu).login(&id).await.unwrap();
        assert_eq!(approval.request_id, id);
        assert_eq!(approval.status, RequestStatus::Approved);
        assert_eq!(approval.approved_agent_id.as_deref(), Some(emu.agent_id()));
        assert_eq!(emu.counters().approvals(&id), 1);
        assert_eq!(emu.request_status(&id), Some("APPROVED"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_schemes_in_auto_mode_with_and_without_pow_scheme() {
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
            .start()
            .await
            .unwrap();
        let id = emu.create_request();
        let result = agent(&emu).login(&id).await;
        assert!(result.is_ok(), "{scheme} hidden={hide}: {result:?}");
        let approves = emu.counters().calls(Route::Approve);
        let expected = if hide && scheme == Scheme::Legacy {
            2
        } else {
            1
        };
        assert_eq!(
            approves, expected,
            "{scheme} hidden={hide}: one fallback only when needed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_scheme_that_the_server_does_not_verify_fails_with_invalid_pow() {
    let emu = Emulator::builder()
        .difficulty(10)
        .scheme(Scheme::Legacy)
        .start()
        .await
        .unwrap();
    let id = emu.create_request();
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .pow_scheme(PowSchemeChoice::V1)
        .build()
        .unwrap();
    let err = agent.login(&id).await.unwrap_err();
    // A 10-bit v1 nonce passes legacy by chance once in 1024 runs.
    if emu.counters().approvals(&id) == 0 {
        assert_eq!(err.code(), Some("INVALID_POW"));
        assert_eq!(emu.counters().calls(Route::Approve), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_class_over_the_wire() {
    let emu = Emulator::builder()
        .difficulty(6)
        .ttl(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let good = agent(&emu);
    let bad_token = LimeAgent::builder()
        .token("at_not-a-real-token")
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let id = emu.create_request();
    assert!(
        matches!(bad_token.login(&id).await, Err(Error::Authentication { code: Some(ref c), http_status: Some(401), .. }) if c == "INVALID_AGENT_TOKEN")
    );
    assert!(matches!(
        bad_token.get_profile().await,
        Err(Error::Authentication { .. })
    ));
    let err = good.login("lr_unknown").await.unwrap_err();
    assert_eq!(
        (err.code(), err.http_status()),
        (Some("LOGIN_REQUEST_NOT_FOUND"), Some(404))
    );
    assert!(matches!(
        good.login("../x").await,
        Err(Error::InvalidInput { .. })
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(good.login(&id).await, Err(Error::Expired { .. })));
    let fresh = Emulator::builder().difficulty(6).start().await.unwrap();
    let id = fresh.create_request();
    agent(&fresh).login(&id).await.unwrap();
    assert!(
        agent(&fresh).login(&id).await.unwrap_err().is_conflict(),
        "already approved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_statuses_are_retried_to_the_budget_and_others_are_not() {
    for status in [408u16, 429, 500, 502, 503, 504] {
        let emu = emulator(4).await;
        emu.inject_always(
            Route::ReadRequest,
            Fault::Status {
                status,
                retry_after: Some(0),
            },
        );
        let id = emu.create_request();
        let err = agent(&emu).login(&id).await.unwrap_err();
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(
            emu.counters().calls(Route::ReadRequest),
            4,
            "status {status}"
        );
    }
    for status in [400u16, 403, 404, 409, 410] {
        let emu = emulator(4).await;
        emu.inject_always(
            Route::ReadRequest,
            Fault::Status {
                status,
                retry_after: None,
            },
        );
        let id = emu.create_request();
        assert!(agent(&emu).login(&id).await.is_err());
        assert_eq!(
            emu.counters().calls(Route::ReadRequest),
            1,
            "status {status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_and_slow_answers_are_retried_then_succeed() {
    let emu = emulator(4).await;
    emu.inject(Route::ReadRequest, Fault::Drop, 2);
    emu.inject(
        Route::Approve,
        Fault::Status {
            status: 503,
            retry_after: Some(1),
        },
        1,
    );
    let id = emu.create_request();
    agent(&emu).login(&id).await.unwrap();
    assert_eq!(emu.counters().calls(Route::ReadRequest), 3);
    assert_eq!(emu.counters().calls(Route::Approve), 2);

    let emu = emulator(4).await;
    emu.inject(
        Route::ReadRequest,
        Fault::DelayHeaders(Duration::from_secs(5)),
        1,
    );
    let id = emu.create_request();
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    agent.login(&id).await.unwrap();
    assert_eq!(
        emu.counters().calls(Route::ReadRequest),
        2,
        "one timeout, one success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approve_processed_then_dropped_is_reconciled_without_a_second_approval() {
    let emu = emulator(8).await;
    emu.inject(Route::Approve, Fault::ProcessThenDrop, 1);
    let id = emu.create_request();
    let agent = agent(&emu);
    let approval = agent.login(&id).await.unwrap();
    assert_eq!(approval.approved_agent_id.as_deref(), Some(emu.agent_id()));
    let c = emu.counters();
    assert_eq!(c.approvals(&id), 1);
    assert_eq!(c.calls(Route::Approve), 1, "never sent twice");
    assert_eq!(c.calls(Route::Profile), 1, "the agent id is learned once");
    // The next ambiguous login needs no profile read: the id is remembered.
    emu.inject(Route::Approve, Fault::ProcessThenDrop, 1);
    let id2 = emu.create_request();
    agent.clone().login(&id2).await.unwrap();
    assert_eq!(emu.counters().calls(Route::Profile), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_an_invalid_response_and_never_followed() {
    let emu = emulator(4).await;
    emu.inject_always(Route::Approve, Fault::Redirect { status: 307 });
    let id = emu.create_request();
    let err = agent(&emu).login(&id).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidResponse {
                http_status: Some(307),
                ..
            }
        ),
        "{err:?}"
    );
    let c = emu.counters();
    assert_eq!((c.redirect_hits, c.redirect_token_seen), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_endless_bodies_end_in_typed_errors() {
    let emu = emulator(4).await;
    emu.inject_always(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: vec![],
            body: RawBody::Repeat {
                byte: b' ',
                len: 5_000_000,
            },
        },
    );
    let id = emu.create_request();
    let err = agent(&emu).login(&id).await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert_eq!(emu.counters().calls(Route::ReadRequest), 1, "not retried");

    let emu = emulator(4).await;
    emu.inject_always(
        Route::ReadRequest,
        Fault::Raw {
            status: 200,
            headers: vec![],
            body: RawBody::Endless,
        },
    );
    let id = emu.create_request();
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .timeout(Duration::from_millis(150))
        .max_retries(1)
        .build()
        .unwrap();
    let err = agent.login(&id).await.unwrap_err();
    match err {
        Error::Transport(t) => assert_eq!(t.kind(), TransportErrorKind::Timeout),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.counters().calls(Route::ReadRequest), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsolvable_in_time_challenge_is_a_pow_timeout() {
    let emu = emulator(60).await;
    let id = emu.create_request();
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .pow_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    match agent.login(&id).await {
        Err(Error::PowTimeout {
            difficulty: 60,
            hashes,
        }) => assert!(hashes > 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.counters().calls(Route::Approve), 0);
}

/// CPU time this process has used, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_login_future_stops_the_solver() {
    let emu = emulator(64).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_is_read_with_either_owner_spelling() {
    for key in [
        lime_emulator::OwnerKey::UserId,
        lime_emulator::OwnerKey::OwnerId,
    ] {
        let emu = Emulator::builder().owner_key(key).start().await.unwrap();
        let profile = agent(&emu).get_profile().await.unwrap();
        assert_eq!(profile.agent_id, emu.agent_id());
        assert_eq!(profile.owner_id, format!("user_{}", emu.agent_id()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_agent_shared_by_many_tasks() {
    let emu = emulator(8).await;
    let agent = agent(&emu);
    let ids: Vec<String> = (0..50).map(|_| emu.create_request()).collect();
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let agent = agent.clone();
            tokio::spawn(async move { agent.login(&id).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for id in &ids {
        assert_eq!(emu.counters().approvals(id), 1);
    }
}
