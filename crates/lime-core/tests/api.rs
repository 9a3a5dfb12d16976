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
fn transport_error_kinds_say_whether_to_retry_and_whether_anything_was_sent() {
    for (kind, retry, processed) in [
        (TransportErrorKind::Dns, false, false),
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

/// A login brought to its proof of work, with the task it hands out.
fn login_at_its_solve(challenge: &str, difficulty: u32) -> (Login, lime_core::drive::PowTask) {
    let now = Instant::now();
    let mut login = Login::new(&config(), "lr_api", now).unwrap();
    let Output::Send(_) = login.poll_output() else {
        panic!()
    };
    let body = format!(
        r#"{{"ok":true,"data":{{"status":"PENDING","pow_challenge":"{challenge}","pow_difficulty":{difficulty},"pow_scheme":"v1"}}}}"#
    );
    login.handle_response(http::Response::new(body.into_bytes()), now);
    let Output::Solve(task) = login.poll_output() else {
        panic!()
    };
    (login, task)
}

#[test]
fn an_external_solver_reads_the_task_and_answers_with_a_nonce() {
    let (mut login, task) = login_at_its_solve("gpu-challenge", 8);
    // "The GPU": a plain search over the task's public description.
    let (challenge, scheme, difficulty) = (
        task.challenge().to_owned(),
        task.scheme(),
        task.difficulty(),
    );
    assert_eq!(
        (challenge.as_str(), scheme, difficulty),
        ("gpu-challenge", Scheme::V1, 8)
    );
    drop(task);
    let nonce = (0u64..)
        .map(|n| n.to_string())
        .find(|n| lime_core::lime_pow::verify(scheme, &challenge, n, difficulty))
        .unwrap();
    login.handle_nonce(&nonce, Instant::now());
    let Output::Send(approve) = login.poll_output() else {
        panic!("a valid nonce is sent")
    };
    let sent: serde_json::Value = serde_json::from_slice(approve.request.body()).unwrap();
    assert_eq!(sent["pow_nonce"], nonce.as_str());
}

#[test]
fn a_wrong_or_malformed_external_nonce_is_refused_before_anything_is_sent() {
    for bad in ["", "007", "12a", "-1", "99999999999999999999999", " 1"] {
        let (mut login, _task) = login_at_its_solve("gpu-challenge", 8);
        login.handle_nonce(bad, Instant::now());
        match login.poll_output() {
            Output::Done(Err(Error::InvalidInput {
                argument, reason, ..
            })) => {
                assert_eq!(argument, "nonce");
                assert!(reason.contains("canonical decimal"), "{reason}");
            }
            other => panic!("{bad:?} was accepted: {other:?}"),
        }
    }
    // A well-formed nonce that misses the difficulty: checked, never sent.
    let (mut login, task) = login_at_its_solve("gpu-challenge", 16);
    let wrong = (0u64..)
        .map(|n| n.to_string())
        .find(|n| !lime_core::lime_pow::verify(task.scheme(), task.challenge(), n, 16))
        .unwrap();
    login.handle_nonce(&wrong, Instant::now());
    match login.poll_output() {
        Output::Done(Err(Error::InvalidInput {
            argument, reason, ..
        })) => {
            assert_eq!(argument, "nonce");
            assert!(
                reason.contains("difficulty 16") && reason.contains("nothing was sent"),
                "{reason}"
            );
            assert!(!reason.contains(&wrong) && !reason.contains("gpu-challenge"));
        }
        other => panic!("a nonce below the difficulty was accepted: {other:?}"),
    }
}

#[test]
fn a_report_converts_into_the_error_with_question_mark() {
    fn caller(failure: lime_core::LoginFailure) -> Result<(), Error> {
        Err(failure)?
    }
    let (mut login, _task) = login_at_its_solve("c", 8);
    login.handle_nonce("x", Instant::now());
    let Output::Done(result) = login.poll_output() else {
        panic!()
    };
    let failure = login.report(result).unwrap_err();
    assert_eq!(failure.to_string(), failure.error.to_string());
    assert!(matches!(
        caller(failure),
        Err(Error::InvalidInput {
            argument: "nonce",
            ..
        })
    ));
}
