//! Login scenarios: scripted replies, simulated time, no sockets.
#![forbid(unsafe_code)]

mod scenario;

use std::time::Duration;

use lime_core::{
    Error, PowSchemeChoice, RequestStatus,
    drive::{AGENT_TOKEN_HEADER, TransportErrorKind},
};
use lime_pow::Scheme;
use lime_pow::verify as verify_nonce_for_tests;
use scenario::*;

const READ: &str = "GET /auth/requests/lr_1";
const APPROVE: &str = "POST /modules/agent-login/requests/lr_1/approve";
const PROFILE: &str = "GET /core/agents/me/profile";

fn nonce_sent(req: &lime_core::drive::HttpRequest) -> String {
    let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
    body["pow_nonce"].as_str().unwrap().to_owned()
}

#[test]
fn happy_path_reads_solves_and_approves_with_the_token_only_on_approve() {
    let run = scenario()
        .reply(200, &pending("c0ffee", 10, Some("v1")))
        .reply(200, &approved(AGENT))
        .login("  lr_1 ");
    let result = run.result.as_ref().unwrap();
    assert_eq!(result.status, RequestStatus::Approved);
    assert_eq!(result.site_id, "site_1");
    assert_eq!(result.expires_at.offset().whole_hours(), 2);
    assert_eq!(run.calls(), [READ, APPROVE]);
    let (read, approve) = (&run.requests[0], &run.requests[1]);
    assert!(
        read.headers().get(AGENT_TOKEN_HEADER).is_none(),
        "the public read never carries the token"
    );
    assert_eq!(approve.headers()[AGENT_TOKEN_HEADER], TOKEN);
    assert!(approve.headers()[AGENT_TOKEN_HEADER].is_sensitive());
    for r in &run.requests {
        assert_eq!(r.headers()["accept"], "application/json");
        assert!(
            r.headers()["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("lime-rust/")
        );
        assert_eq!(r.uri().authority().unwrap().as_str(), "127.0.0.1:9");
    }
    assert_eq!(approve.headers()["content-type"], "application/json");
    assert!(verify_nonce_for_tests(
        Scheme::V1,
        "c0ffee",
        &nonce_sent(approve),
        10
    ));
    assert_eq!(run.solves, [(Scheme::V1, 10)]);
}

#[test]
fn invalid_request_ids_send_nothing() {
    for id in [
        "",
        "   ",
        ".",
        "..",
        "a/b",
        "a%2Fb",
        "a b",
        "a\u{0}b",
        "é",
        &"x".repeat(257),
    ] {
        let run = scenario().login(id);
        assert!(
            matches!(
                run.result,
                Err(Error::InvalidInput {
                    argument: "request_id",
                    ..
                })
            ),
            "{id:?}"
        );
        assert!(run.requests.is_empty());
    }
}

#[test]
fn expired_and_already_approved_reads_fail_without_solving() {
    let run = scenario()
        .reply(200, &request_state("EXPIRED", None, "c"))
        .login("lr_1");
    assert!(matches!(run.result, Err(Error::Expired { .. })));
    assert!(run.solves.is_empty());
    for status in ["APPROVED", "DELIVERED"] {
        let run = scenario()
            .agent_id(AGENT)
            .reply(200, &request_state(status, Some("other"), "c"))
            .login("lr_1");
        let error = run.result.as_ref().unwrap_err();
        assert!(error.is_conflict(), "{status}");
        assert!(
            error.message().contains("(other)"),
            "names the approver: {error}"
        );
        assert!(run.solves.is_empty());
        assert_eq!(run.calls(), [READ]);
    }
}

#[test]
fn a_login_this_agent_already_confirmed_is_success_from_the_read() {
    // The agent's id known: the read alone decides.
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &request_state("DELIVERED", Some(AGENT), "c"))
        .login("lr_1");
    let result = run.result.as_ref().unwrap();
    assert_eq!(result.approved_agent_id.as_deref(), Some(AGENT));
    assert_eq!(run.calls(), [READ]);
    assert!(run.solves.is_empty());
    // Not known yet: learned from the profile, once.
    let run = scenario()
        .reply(200, &request_state("APPROVED", Some(AGENT), "c"))
        .reply(200, &profile_body("user_id"))
        .login("lr_1");
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(run.calls(), [READ, PROFILE]);
    // Another agent's approval, learned the same way: a conflict.
    let run = scenario()
        .reply(200, &request_state("APPROVED", Some("agent_other"), "c"))
        .reply(200, &profile_body("user_id"))
        .login("lr_1");
    assert!(run.result.as_ref().unwrap_err().is_conflict());
    assert_eq!(run.calls(), [READ, PROFILE]);
    // No approver named: a conflict without asking.
    let run = scenario()
        .reply(200, &request_state("APPROVED", None, "c"))
        .login("lr_1");
    assert!(run.result.as_ref().unwrap_err().is_conflict());
    assert_eq!(run.calls(), [READ]);
}

#[test]
fn backoff_stops_growing_at_30_s() {
    let mut scenario = scenario().config(|c| c.max_retries(12));
    for _ in 0..12 {
        scenario = scenario.reply(503, "");
    }
    let run = scenario
        .reply(200, &pending("c", 1, Some("v1")))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    assert_eq!(run.waits.len(), 12);
    for wait in &run.waits {
        assert!(*wait < Duration::from_millis(30_100), "{wait:?}");
    }
    assert!(
        run.waits[11] >= Duration::from_secs(30),
        "it did grow to the cap"
    );
}

#[test]
fn unknown_status_strings_are_solved_like_pending() {
    let run = scenario()
        .reply(200, &request_state("QUEUED", None, "c"))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
}

#[test]
fn auto_scheme_follows_pow_scheme_and_never_falls_back_when_named() {
    let run = scenario()
        .reply(200, &pending("c", 6, Some("legacy")))
        .reply(400, &api_error("INVALID_POW", "wrong"))
        .login("lr_1");
    assert_eq!(run.solves, [(Scheme::Legacy, 6)]);
    assert_eq!(run.result.unwrap_err().code(), Some("INVALID_POW"));
}

#[test]
fn auto_scheme_without_pow_scheme_solves_v1_then_legacy_once() {
    let run = scenario()
        .reply(200, &pending("c", 6, None))
        .reply(400, &api_error("INVALID_POW", "wrong"))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert_eq!(run.solves, [(Scheme::V1, 6), (Scheme::Legacy, 6)]);
    assert!(verify_nonce_for_tests(
        Scheme::Legacy,
        "c",
        &nonce_sent(&run.requests[2]),
        6
    ));
    assert!(run.result.is_ok());

    let run = scenario()
        .reply(200, &pending("c", 6, None))
        .reply(400, &api_error("INVALID_POW", "wrong"))
        .reply(400, &api_error("INVALID_POW", "still wrong"))
        .login("lr_1");
    assert_eq!(run.solves.len(), 2, "exactly one fallback");
    assert_eq!(run.result.unwrap_err().code(), Some("INVALID_POW"));
}

#[test]
fn a_pinned_scheme_ignores_pow_scheme_and_never_falls_back() {
    let run = scenario()
        .config(|b| b.pow_scheme(PowSchemeChoice::Legacy))
        .reply(200, &pending("c", 6, Some("v1")))
        .reply(400, &api_error("INVALID_POW", "wrong"))
        .login("lr_1");
    assert_eq!(run.solves, [(Scheme::Legacy, 6)]);
    assert!(run.result.is_err());
}

#[test]
fn retryable_statuses_are_retried_up_to_the_budget() {
    for status in [408u16, 429, 500, 502, 503, 504] {
        let mut s = scenario();
        for _ in 0..4 {
            s = s.reply(status, &api_error("X", "busy"));
        }
        let run = s.login("lr_1");
        assert_eq!(
            run.count(READ),
            4,
            "status {status}: max_retries 3 means 4 attempts"
        );
        assert_eq!(run.result.unwrap_err().http_status(), Some(status));
        assert_eq!(run.waits.len(), 3);
    }
}

#[test]
fn non_retryable_statuses_fail_at_once() {
    for status in [400u16, 401, 403, 404, 409, 410] {
        let run = scenario()
            .reply(status, &api_error("SOME_CODE", "no"))
            .login("lr_1");
        assert_eq!(run.requests.len(), 1, "status {status}");
        assert!(run.waits.is_empty());
        assert!(run.result.is_err());
    }
}

#[test]
fn backoff_grows_exponentially_with_bounded_jitter() {
    let run = scenario()
        .reply(503, "")
        .reply(503, "")
        .reply(503, "")
        .reply(200, &pending("c", 1, Some("v1")))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    for (i, wait) in run.waits.iter().enumerate() {
        let base = Duration::from_millis(250) * (1 << i);
        assert!(
            *wait >= base && *wait < base + Duration::from_millis(100),
            "wait {i}: {wait:?}"
        );
    }
}

#[test]
fn retry_after_seconds_replaces_the_backoff_and_is_capped_at_60_s() {
    let limited = |after: &str| {
        http::Response::builder()
            .status(429)
            .header("retry-after", after)
            .body(api_error("RATE_LIMIT_EXCEEDED", "slow down").into_bytes())
            .unwrap()
    };
    let run = scenario()
        .reply_with(limited("7"))
        .reply_with(limited("3600"))
        .reply(200, &pending("c", 1, Some("v1")))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    assert_eq!(run.waits, [Duration::from_secs(7), Duration::from_secs(60)]);
}

#[test]
fn retry_after_http_date_is_measured_against_the_date_header() {
    let r = http::Response::builder()
        .status(503)
        .header("date", "Sat, 28 Nov 2026 12:00:00 GMT")
        .header("retry-after", "Sat, 28 Nov 2026 12:00:12 GMT")
        .body(Vec::new())
        .unwrap();
    let run = scenario()
        .reply_with(r)
        .reply(200, &pending("c", 1, Some("v1")))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert_eq!(run.waits, [Duration::from_secs(12)]);
}

#[test]
fn rate_limited_after_every_retry_keeps_retry_after() {
    let limited = || {
        http::Response::builder()
            .status(429)
            .header("retry-after", "1")
            .body(b"not json".to_vec())
            .unwrap()
    };
    let run = scenario()
        .config(|b| b.max_retries(1))
        .reply_with(limited())
        .reply_with(limited())
        .login("lr_1");
    match run.result {
        Err(Error::RateLimited {
            retry_after,
            http_status,
            ..
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
            assert_eq!(http_status, Some(429));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_wait_is_started_that_would_pass_the_deadline() {
    let run = scenario()
        .config(|b| b.deadline(Duration::from_secs(5)))
        .reply_with(
            http::Response::builder()
                .status(503)
                .header("retry-after", "30")
                .body(Vec::new())
                .unwrap(),
        )
        .login("lr_1");
    assert_eq!(run.result.unwrap_err().http_status(), Some(503));
    assert!(run.waits.is_empty());
    assert!(run.elapsed < Duration::from_secs(5));
}

#[test]
fn transport_failures_on_reads_are_retried() {
    let run = scenario()
        .transport(TransportErrorKind::Connect)
        .transport(TransportErrorKind::Timeout)
        .transport(TransportErrorKind::ConnectionLost)
        .reply(200, &pending("c", 1, Some("v1")))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    assert_eq!(run.count(READ), 4);
}

#[test]
fn tls_errors_and_oversized_bodies_are_not_retried() {
    let run = scenario().transport(TransportErrorKind::Tls).login("lr_1");
    assert!(matches!(run.result, Err(Error::Transport(_))));
    assert_eq!(run.requests.len(), 1);
    let run = scenario()
        .transport(TransportErrorKind::BodyTooLarge)
        .login("lr_1");
    assert!(matches!(run.result, Err(Error::InvalidResponse { .. })));
    assert_eq!(run.requests.len(), 1);
}

#[test]
fn not_processed_statuses_are_resent_without_reconciling() {
    for status in [408u16, 429, 503] {
        let run = scenario()
            .reply(200, &pending("c", 4, Some("v1")))
            .reply(status, &api_error("BUSY", "later"))
            .reply(200, &approved(AGENT))
            .login("lr_1");
        assert!(run.result.is_ok(), "{status}");
        assert_eq!(run.calls(), [READ, APPROVE, APPROVE]);
        assert_eq!(nonce_sent(&run.requests[1]), nonce_sent(&run.requests[2]));
    }
}

#[test]
fn an_ambiguous_approve_that_went_through_for_this_agent_is_success_without_a_second_approve() {
    let run = scenario()
        .reply(200, &pending("c", 4, Some("v1")))
        .transport(TransportErrorKind::ConnectionLost)
        .reply(200, &profile_body("user_id"))
        .reply(200, &request_state("APPROVED", Some(AGENT), "c"))
        .login("lr_1");
    let result = run.result.as_ref().unwrap();
    assert_eq!(result.approved_agent_id.as_deref(), Some(AGENT));
    assert_eq!(run.calls(), [READ, APPROVE, PROFILE, READ]);
    assert_eq!(run.requests[2].headers()[AGENT_TOKEN_HEADER], TOKEN);
    assert!(run.requests[3].headers().get(AGENT_TOKEN_HEADER).is_none());
}

#[test]
fn a_known_agent_id_skips_the_profile_read() {
    for status in [500u16, 502, 504] {
        let run = scenario()
            .agent_id(AGENT)
            .reply(200, &pending("c", 4, Some("v1")))
            .reply(status, "<html>oops</html>")
            .reply(200, &request_state("DELIVERED", Some(AGENT), "c"))
            .login("lr_1");
        assert_eq!(
            run.result.as_ref().unwrap().status,
            RequestStatus::Delivered,
            "{status}"
        );
        assert_eq!(run.calls(), [READ, APPROVE, READ]);
    }
}

#[test]
fn an_oversized_or_unknown_approve_failure_is_reconciled_but_a_failed_connect_is_resent() {
    for kind in [TransportErrorKind::BodyTooLarge, TransportErrorKind::Other] {
        let run = scenario()
            .agent_id(AGENT)
            .reply(200, &pending("c", 4, Some("v1")))
            .transport(kind)
            .reply(200, &request_state("APPROVED", Some(AGENT), "c"))
            .login("lr_1");
        assert!(run.result.is_ok(), "{kind:?}: {:?}", run.result);
        assert_eq!(run.calls(), [READ, APPROVE, READ]);
    }
    let run = scenario()
        .reply(200, &pending("c", 4, Some("v1")))
        .transport(TransportErrorKind::Connect)
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    assert_eq!(
        run.calls(),
        [READ, APPROVE, APPROVE],
        "nothing was sent: no reconciliation needed"
    );
}

#[test]
fn an_ambiguous_approve_that_another_agent_won_is_a_conflict() {
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &pending("c", 4, Some("v1")))
        .transport(TransportErrorKind::Timeout)
        .reply(200, &request_state("APPROVED", Some("agent_other"), "c"))
        .login("lr_1");
    assert!(run.result.as_ref().unwrap_err().is_conflict());
    assert_eq!(run.count(APPROVE), 1);
}

#[test]
fn an_ambiguous_approve_that_did_not_go_through_is_sent_again() {
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &pending("c", 4, Some("v1")))
        .reply(502, "")
        .reply(200, &request_state("PENDING", None, "c"))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    assert_eq!(run.calls(), [READ, APPROVE, READ, APPROVE]);
    assert_eq!(run.solves.len(), 1, "same challenge: no second solve");
}

#[test]
fn a_changed_challenge_is_solved_again_before_approving() {
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &pending("first", 4, Some("v1")))
        .reply(504, "")
        .reply(200, &request_state("PENDING", None, "second"))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    assert_eq!(run.solves.len(), 2);
    assert!(verify_nonce_for_tests(
        Scheme::V1,
        "second",
        &nonce_sent(&run.requests[3]),
        4
    ));
}

#[test]
fn a_409_after_an_ambiguous_attempt_is_reconciled() {
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &pending("c", 4, Some("v1")))
        .transport(TransportErrorKind::ConnectionLost)
        .reply(200, &request_state("PENDING", None, "c"))
        .reply(409, &api_error("SITE_LOGIN_CONFLICT", "already approved"))
        .reply(200, &request_state("APPROVED", Some(AGENT), "c"))
        .login("lr_1");
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(run.calls(), [READ, APPROVE, READ, APPROVE, READ]);
}

#[test]
fn a_409_without_an_ambiguous_attempt_is_a_conflict() {
    let run = scenario()
        .reply(200, &pending("c", 4, Some("v1")))
        .reply(409, &api_error("SITE_LOGIN_CONFLICT", "already approved"))
        .login("lr_1");
    assert!(run.result.as_ref().unwrap_err().is_conflict());
    assert_eq!(run.calls(), [READ, APPROVE]);
}

#[test]
fn a_reconcile_read_without_status_returns_the_ambiguous_error() {
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &pending("c", 4, Some("v1")))
        .reply(502, "")
        .reply(
            200,
            &ok(serde_json::json!({ "pow_challenge": "c", "pow_difficulty": 4 })),
        )
        .login("lr_1");
    assert_eq!(run.result.unwrap_err().http_status(), Some(502));
}

#[test]
fn repeated_ambiguous_approves_stop_at_the_approve_budget() {
    let mut s = scenario()
        .agent_id(AGENT)
        .config(|b| b.max_retries(2))
        .reply(200, &pending("c", 4, Some("v1")));
    for _ in 0..3 {
        s = s
            .reply(502, "")
            .reply(200, &request_state("PENDING", None, "c"));
    }
    let run = s.login("lr_1");
    assert_eq!(
        run.count(APPROVE),
        3,
        "max_retries 2: three approves in all"
    );
    assert_eq!(run.result.unwrap_err().http_status(), Some(502));
}

#[test]
fn pow_difficulty_out_of_range_or_mistyped_is_an_invalid_response_before_solving() {
    for data in [
        serde_json::json!({ "pow_challenge": "c", "pow_difficulty": 300 }),
        serde_json::json!({ "pow_challenge": "c", "pow_difficulty": "15" }),
        serde_json::json!({ "pow_challenge": "c", "pow_difficulty": 15.5 }),
        serde_json::json!({ "pow_challenge": "c", "pow_difficulty": 15.0 }),
        serde_json::json!({ "pow_challenge": "c" }),
        serde_json::json!({ "pow_challenge": 12, "pow_difficulty": 3 }),
        serde_json::json!({ "pow_challenge": "c", "pow_difficulty": 18446744073709551615u64 }),
        serde_json::json!({ "pow_challenge": "c", "pow_difficulty": 3, "pow_scheme": "md5" }),
    ] {
        let run = scenario().reply(200, &ok(data.clone())).login("lr_1");
        let err = run.result.unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse { .. }),
            "{data}: {err:?}"
        );
        assert!(run.solves.is_empty());
    }
}

#[test]
fn a_negative_difficulty_is_solved_as_zero() {
    let run = scenario()
        .reply(200, &pending("c", -5, Some("v1")))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok());
    assert_eq!(nonce_sent(&run.requests[1]), "0");
}

#[test]
fn a_pow_timeout_is_its_own_error() {
    let run = scenario()
        .config(|b| b.pow_timeout(Duration::from_millis(20)))
        .reply(200, &pending("c", 256, Some("v1")))
        .login("lr_1");
    match run.result {
        Err(Error::PowTimeout {
            difficulty: 256,
            hashes,
            ..
        }) => assert!(hashes > 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cancelled_solve_ends_the_login_as_cancelled() {
    use lime_core::drive::Output;
    let (mut login, now) = manual_login();
    let Output::Send(_) = login.poll_output() else {
        panic!()
    };
    login.handle_response(response(200, &pending("c", 200, Some("v1"))), now);
    let Output::Solve(task) = login.poll_output() else {
        panic!()
    };
    login.cancel_token().cancel();
    let outcome = task.run();
    login.handle_solution(outcome, now);
    assert!(matches!(
        login.poll_output(),
        Output::Done(Err(Error::Cancelled))
    ));
}

#[test]
fn a_panicked_solver_thread_is_an_internal_error_not_a_cancellation() {
    use lime_core::drive::Output;
    let (mut login, now) = manual_login();
    let Output::Send(_) = login.poll_output() else {
        panic!()
    };
    login.handle_response(response(200, &pending("c", 8, Some("v1"))), now);
    let Output::Solve(_task) = login.poll_output() else {
        panic!()
    };
    login.handle_solution(Err(lime_pow::SolveError::WorkerPanicked { hashes: 7 }), now);
    match login.poll_output() {
        Output::Done(Err(Error::Internal { reason, .. })) => {
            assert!(reason.contains("please report"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn polling_twice_without_answering_is_a_driver_error_not_a_second_request() {
    use lime_core::drive::Output;
    let (mut login, now) = manual_login();
    assert!(matches!(login.poll_output(), Output::Send(_)));
    assert!(matches!(
        login.poll_output(),
        Output::Done(Err(Error::Internal { .. }))
    ));
    // The flow still accepts the answer to its one request.
    login.handle_response(
        response(404, &api_error("LOGIN_REQUEST_NOT_FOUND", "no")),
        now,
    );
    let Output::Done(Err(e)) = login.poll_output() else {
        panic!()
    };
    assert_eq!(e.code(), Some("LOGIN_REQUEST_NOT_FOUND"));
}

#[test]
fn a_reconciliation_read_is_validated_exactly_as_the_first_read() {
    for (difficulty, why) in [
        (serde_json::json!(300), "over the maximum"),
        (serde_json::Value::Null, "pow_difficulty"),
        (serde_json::json!("12"), "pow_difficulty"),
        (serde_json::json!(4.5), "pow_difficulty"),
    ] {
        let run = scenario()
            .agent_id(AGENT)
            .reply(200, &pending("first", 4, Some("v1")))
            .reply(502, "")
            .reply(200, &pending("second", difficulty.clone(), Some("v1")))
            .login("lr_1");
        match &run.result {
            Err(Error::InvalidResponse { reason, .. }) => {
                assert!(reason.contains(why), "{difficulty}: {reason}")
            }
            other => panic!("{difficulty}: {other:?}"),
        }
        assert_eq!(run.solves.len(), 1, "{difficulty}: nothing searched");
        assert_eq!(run.count(APPROVE), 1);
    }
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &pending("first", 4, Some("v1")))
        .reply(502, "")
        .reply(200, &pending("first", serde_json::json!(4), Some("md5")))
        .login("lr_1");
    assert!(
        matches!(&run.result, Err(Error::InvalidResponse { reason, .. }) if reason.contains("pow_scheme")),
        "{:?}",
        run.result
    );
}

#[test]
fn a_reconciliation_read_naming_another_scheme_is_solved_again_in_it() {
    let run = scenario()
        .agent_id(AGENT)
        .reply(200, &pending("c", 4, Some("v1")))
        .reply(502, "")
        .reply(200, &pending("c", serde_json::json!(6), Some("legacy")))
        .reply(200, &approved(AGENT))
        .login("lr_1");
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(run.solves, [(Scheme::V1, 4), (Scheme::Legacy, 6)]);
    assert!(verify_nonce_for_tests(
        Scheme::Legacy,
        "c",
        &nonce_sent(&run.requests[3]),
        6
    ));
}

#[test]
fn a_2xx_approve_with_an_unreadable_body_is_reconciled_not_failed() {
    for body in [
        ok(serde_json::json!({ "status": "APPROVED" })),
        "<html>ok</html>".to_owned(),
    ] {
        let run = scenario()
            .agent_id(AGENT)
            .reply(200, &pending("c", 4, Some("v1")))
            .reply(200, &body)
            .reply(200, &request_state("APPROVED", Some(AGENT), "c"))
            .login("lr_1");
        let result = run
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{body}: {e:?}"));
        assert_eq!(result.status, RequestStatus::Approved);
        assert_eq!(run.calls(), [READ, APPROVE, READ], "{body}");
    }
}

/// The two reads that can find a request approved (the first read, and the
/// read that settles an approve whose outcome is unknown) answer alike.
#[test]
fn both_approval_reads_judge_an_approved_request_the_same_way() {
    let first_read = |body: &str| {
        scenario()
            .agent_id(AGENT)
            .reply(200, body)
            .login("lr_1")
            .result
    };
    let settling_read = |body: &str| {
        scenario()
            .agent_id(AGENT)
            .reply(200, &pending("c", 4, Some("v1")))
            .transport(TransportErrorKind::Timeout)
            .reply(200, body)
            .login("lr_1")
            .result
    };
    let mut mistyped: serde_json::Value =
        serde_json::from_str(&request_state("APPROVED", Some("x"), "c")).unwrap();
    mistyped["data"]["approved_agent_id"] = 42.into();
    let cases = [
        ("ours", request_state("APPROVED", Some(AGENT), "c")),
        (
            "another's",
            request_state("DELIVERED", Some("agent_other"), "c"),
        ),
        ("nobody named", request_state("APPROVED", None, "c")),
        ("a mistyped approver", mistyped.to_string()),
    ];
    for (case, body) in &cases {
        let (first, settled) = (first_read(body), settling_read(body));
        assert_eq!(first, settled, "{case}: both paths agree");
        match *case {
            "ours" => assert!(first.is_ok(), "{case}: {first:?}"),
            "another's" => {
                let error = first.unwrap_err();
                assert!(error.is_conflict() && error.message().contains("(agent_other)"));
            }
            "nobody named" => assert!(first.unwrap_err().is_conflict()),
            _ => assert!(
                matches!(first, Err(Error::InvalidResponse { .. })),
                "{case}: a broken answer, not a conflict: {first:?}"
            ),
        }
    }
}

/// What a flow learns is kept by the agent that started it the moment it
/// is read: a driver has no finishing step to forget.
#[test]
fn a_driver_that_only_drives_forgets_nothing_the_flows_learned() {
    // A login learns the agent id while settling an approve whose outcome
    // was unknown.
    let state = agent_state();
    let run = scenario()
        .reply(200, &pending("c", 4, Some("v1")))
        .transport(TransportErrorKind::Timeout)
        .reply(200, &profile_body("user_id"))
        .reply(200, &request_state("APPROVED", Some(AGENT), "c"))
        .login_on(&state, "lr_1");
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert_eq!(state.agent_id().as_deref(), Some(AGENT));
    // The next login knows it: settling needs no profile read.
    let run = scenario()
        .reply(200, &pending("c", 4, Some("v1")))
        .transport(TransportErrorKind::Timeout)
        .reply(200, &request_state("APPROVED", Some(AGENT), "c"))
        .login_on(&state, "lr_1");
    assert!(run.result.is_ok() && run.count(PROFILE) == 0);
    // A profile read keeps it even when its driver drops it unfinished.
    let state = agent_state();
    #[allow(clippy::disallowed_methods)] // a test's own clock start
    let start = std::time::Instant::now();
    let mut profile = state.start_profile(start);
    let lime_core::drive::Output::Send(_) = profile.poll_output() else {
        panic!("a profile read sends first")
    };
    profile.handle_response(response(200, &profile_body("user_id")), start);
    drop(profile);
    assert_eq!(state.agent_id().as_deref(), Some(AGENT));
    let state = agent_state();
    let run = scenario()
        .reply(200, &profile_body("user_id"))
        .profile_on(&state);
    assert_eq!(run.result.unwrap().agent_id, AGENT);
    assert_eq!(state.agent_id().as_deref(), Some(AGENT));
}
