//! The public types' small surfaces: accessors, names, redaction, defaults.

#![allow(clippy::disallowed_methods)]
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use lime_core::lime_pow::Scheme;
use lime_core::{
    AgentToken, BaseUrl, Config, Error, Login, PowSchemeChoice, RequestStatus,
    drive::{Output, TransportError, TransportErrorKind},
};

fn config() -> Config {
    Config::builder()
        .token("at_api-surface-token-1234")
        .base_url("http://[::1]:9/api/v1/")
        .pow_threads(1)
        .user_agent("lime-tests/1")
        .env_lookup(|_| None)
        .build()
        .unwrap()
}

#[test]
fn config_getters_return_what_was_set() {
    let c = config();
    assert_eq!(c.base_url().as_str(), "http://[::1]:9/api/v1");
    assert_eq!(c.base_url().origin(), "http://[::1]:9");
    assert_eq!(c.base_url().to_string(), "http://[::1]:9/api/v1");
    assert!(format!("{:?}", c.base_url()).contains("[::1]"));
    assert_eq!(c.user_agent(), "lime-tests/1");
    assert_eq!(c.pow_threads(), 1);
    assert_eq!(BaseUrl::default().as_str(), "https://lime.pics/api/v1");
    assert!(BaseUrl::default().is_https());
    for (name, choice) in [
        ("auto", PowSchemeChoice::Auto),
        ("legacy", PowSchemeChoice::Legacy),
        ("v1", PowSchemeChoice::V1),
    ] {
        assert_eq!(choice.to_string(), name);
    }
    assert!(matches!(
        Config::builder()
            .token("at_x")
            .user_agent("bad\nagent")
            .env_lookup(|_| None)
            .build(),
        Err(Error::Config { .. })
    ));
}

#[test]
fn the_pow_task_describes_itself_without_the_challenge() {
    let now = Instant::now();
    let mut login = Login::new(&config(), "lr_api", now).unwrap();
    let Output::Send(transmit) = login.poll_output() else {
        panic!()
    };
    assert!(format!("{transmit:?}").contains("/auth/requests/lr_api"));
    let body = r#"{"ok":true,"data":{"status":"PENDING","pow_challenge":"secret-challenge","pow_difficulty":3,"pow_scheme":"legacy"}}"#;
    login.handle_response(http::Response::new(body.as_bytes().to_vec()), now);
    let Output::Solve(task) = login.poll_output() else {
        panic!()
    };
    assert_eq!((task.scheme(), task.difficulty()), (Scheme::Legacy, 3));
    assert!(task.deadline() > now && task.deadline() <= now + Duration::from_secs(10));
    assert!(!task.cancel_token().is_cancelled());
    let progress = task.progress();
    let debug = format!("{task:?}");
    assert!(
        debug.contains("challenge_len") && !debug.contains("secret-challenge"),
        "{debug}"
    );
    let outcome = task.run();
    assert_eq!(progress.hashes(), outcome.as_ref().unwrap().hashes);
    login.handle_solution(outcome, now);
    assert_eq!(login.pow_stats().solves, 1);
    assert_eq!(login.request_id(), "lr_api");
    let Output::Send(approve) = login.poll_output() else {
        panic!()
    };
    assert!(
        !format!("{approve:?}").contains("pow_nonce"),
        "Debug shows the body size, not the body"
    );
}

#[test]
fn errors_expose_code_status_message_and_retryability() {
    let auth = Error::Authentication {
        code: Some("AGENT_INACTIVE".into()),
        message: "inactive".into(),
        http_status: Some(403),
    };
    assert_eq!(
        (auth.code(), auth.http_status(), auth.message().as_str()),
        (Some("AGENT_INACTIVE"), Some(403), "inactive")
    );
    assert!(!auth.is_retryable());
    let expired = Error::Expired {
        message: "gone".into(),
        http_status: Some(410),
    };
    assert_eq!(expired.code(), Some("LOGIN_REQUEST_EXPIRED"));
    let limited = Error::RateLimited {
        message: "slow".into(),
        retry_after: None,
        http_status: Some(429),
    };
    assert!(limited.is_retryable() && limited.code() == Some("RATE_LIMIT_EXCEEDED"));
    let pow = Error::PowTimeout {
        difficulty: 30,
        hashes: 9,
    };
    assert_eq!((pow.code(), pow.http_status()), (None, None));
    assert!(pow.message().contains("difficulty 30"));
    assert!(Error::Cancelled.to_string().contains("cancelled"));
    let bad = Error::InvalidResponse {
        http_status: Some(502),
        reason: "not JSON".into(),
    };
    assert!(bad.is_retryable() && bad.to_string().contains("HTTP 502"));
    let api = Error::Api {
        code: "X".into(),
        message: "m".into(),
        http_status: None,
        detail: None,
    };
    assert!(api.to_string().contains("HTTP -"));
    for (kind, retry, processed) in [
        (TransportErrorKind::Connect, true, false),
        (TransportErrorKind::Timeout, true, true),
        (TransportErrorKind::ConnectionLost, true, true),
        (TransportErrorKind::Tls, false, false),
        (TransportErrorKind::BodyTooLarge, false, true),
        (TransportErrorKind::Other, false, true),
    ] {
        let e = TransportError::new(kind, "detail");
        assert_eq!(
            (e.is_retryable(), e.may_have_been_processed()),
            (retry, processed),
            "{kind}"
        );
        assert!(e.to_string().ends_with(": detail"));
        assert_eq!(Error::from(e).is_retryable(), retry);
    }
}

#[test]
fn status_names_round_trip_and_keep_unknown_values() {
    for name in ["PENDING", "APPROVED", "DELIVERED", "EXPIRED", "ARCHIVED"] {
        let status = RequestStatus::from_wire(name);
        assert_eq!(status.as_str(), name);
        assert_eq!(status.to_string(), name);
    }
    assert!(RequestStatus::Delivered.is_approved() && !RequestStatus::Pending.is_approved());
    let token = AgentToken::new("at_abcdefghijklmnop").unwrap();
    assert_eq!(token.clone(), token);
}
