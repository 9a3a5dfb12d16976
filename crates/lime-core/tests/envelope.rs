//! Classification of final responses, in the order `docs/protocol.md` gives.
#![forbid(unsafe_code)]

mod scenario;

use lime_core::{Error, drive::classify};
use scenario::{api_error, response};

const LIMIT: usize = 1 << 20;

#[test]
fn rate_limit_wins_over_everything_whatever_the_body() {
    for (status, body) in [
        (429, "<html>"),
        (429, r#"{"ok":true,"data":{}}"#),
        (400, &api_error("RATE_LIMIT_EXCEEDED", "slow") as &str),
        (401, &api_error("RATE_LIMIT_EXCEEDED", "slow")),
    ] {
        assert!(
            matches!(
                classify(&response(status, body), LIMIT),
                Err(Error::RateLimited { .. })
            ),
            "{status} {body}"
        );
    }
}

#[test]
fn authentication_comes_next_and_keeps_the_code() {
    for (status, code) in [
        (401, None),
        (401, Some("INVALID_AGENT_TOKEN")),
        (400, Some("MISSING_AGENT_TOKEN")),
        (403, Some("AGENT_INACTIVE")),
        (403, Some("AGENT_USER_SUSPENDED")),
    ] {
        let body = code.map_or_else(|| "garbage".to_owned(), |c| api_error(c, "no"));
        match classify(&response(status, &body), LIMIT) {
            Err(Error::Authentication {
                code: got,
                http_status,
                ..
            }) => {
                assert_eq!(got.as_deref(), code);
                assert_eq!(http_status, Some(status));
            }
            other => panic!("{status} {code:?}: {other:?}"),
        }
    }
    // A 403 with another code is an ordinary API error.
    assert!(matches!(
        classify(&response(403, &api_error("FORBIDDEN", "no")), LIMIT),
        Err(Error::Api { .. })
    ));
}

#[test]
fn redirects_are_invalid_responses_even_with_a_good_body() {
    for status in [301, 302, 303, 307, 308] {
        let err = classify(&response(status, r#"{"ok":true,"data":{}}"#), LIMIT).unwrap_err();
        assert!(matches!(err, Error::InvalidResponse { http_status: Some(s), .. } if s == status));
    }
}

#[test]
fn malformed_envelopes_are_invalid_responses_keeping_the_status() {
    for (status, body, why) in [
        (200, "not json", "not a JSON object"),
        (200, "[1,2]", "not a JSON object"),
        (200, "\"text\"", "not a JSON object"),
        (200, "", "not a JSON object"),
        (502, "<html>Bad gateway</html>", "not a JSON object"),
        (200, r#"{"ok":true}"#, "`data` is not an object"),
        (200, r#"{"ok":true,"data":[1]}"#, "`data` is not an object"),
        (200, r#"{"ok":false}"#, "`error` is not an object"),
        (
            400,
            r#"{"ok":false,"error":"bad"}"#,
            "`error` is not an object",
        ),
        (
            200,
            r#"{"ok":"true","data":{}}"#,
            "`error` is not an object",
        ),
    ] {
        match classify(&response(status, body), LIMIT) {
            Err(Error::InvalidResponse {
                http_status,
                reason,
                ..
            }) => {
                assert_eq!(http_status, Some(status), "{body}");
                assert!(reason.contains(why), "{body}: {reason}");
                assert!(!reason.contains("Bad gateway"), "never quotes the body");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn deep_nesting_is_refused_without_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        classify(&response(200, &deep), LIMIT),
        Err(Error::InvalidResponse { .. })
    ));
}

#[test]
fn api_errors_keep_code_message_detail_and_status_with_defaults() {
    let body = r#"{"ok":false,"error":{"code":"INVALID_POW","message":"wrong","detail":{"k":1}}}"#;
    match classify(&response(400, body), LIMIT) {
        Err(Error::Api {
            code,
            message,
            http_status,
            detail,
            ..
        }) => {
            assert_eq!(
                (code.as_str(), message.as_str(), http_status),
                ("INVALID_POW", "wrong", Some(400))
            );
            assert_eq!(detail.unwrap()["k"], 1);
        }
        other => panic!("{other:?}"),
    }
    match classify(
        &response(500, r#"{"ok":false,"error":{"detail":"not an object"}}"#),
        LIMIT,
    ) {
        Err(Error::Api {
            code,
            message,
            detail,
            ..
        }) => {
            assert_eq!(
                (code.as_str(), message.as_str()),
                ("UNKNOWN_ERROR", "Unknown error")
            );
            assert!(detail.is_none());
        }
        other => panic!("{other:?}"),
    }
    let expired = classify(
        &response(410, &api_error("LOGIN_REQUEST_EXPIRED", "gone")),
        LIMIT,
    );
    assert!(matches!(
        expired,
        Err(Error::Expired {
            http_status: Some(410),
            ..
        })
    ));
}

#[test]
fn bodies_over_the_limit_are_refused() {
    let body = format!(r#"{{"ok":true,"data":{{"x":"{}"}}}}"#, "a".repeat(200));
    assert!(matches!(
        classify(&response(200, &body), 100),
        Err(Error::InvalidResponse { .. })
    ));
    assert!(classify(&response(200, &body), 1000).is_ok());
}

#[test]
fn retryable_is_decided_by_status_and_kind() {
    let err = |status| classify(&response(status, "x"), LIMIT).unwrap_err();
    for s in [408, 429, 500, 502, 503, 504] {
        assert!(err(s).is_retryable(), "{s}");
    }
    for s in [400, 401, 403, 404, 409, 410, 302] {
        assert!(!err(s).is_retryable(), "{s}");
    }
}
