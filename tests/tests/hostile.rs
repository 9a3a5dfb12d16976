//! Hostile input, for both adapters: bad local input is refused before any
//! request; broken or malicious server answers end in typed errors, never a
//! panic or a hang past the configured timeouts.
#![forbid(unsafe_code)]

use std::time::Duration;

use lime_core::{AgentToken, BaseUrl, Config, Error, drive::TransportErrorKind};
use lime_emulator::{BlockingEmulator, Emulator, Fault, RawBody, Route};
use lime_tests::Adapter;

fn emulator() -> BlockingEmulator {
    Emulator::builder().difficulty(6).start_blocking().unwrap()
}

fn agent<A: Adapter>(emu: &Emulator) -> A {
    A::new(
        Config::builder()
            .token(emu.agent_token())
            .base_url(emu.base_url())
            .timeout(Duration::from_millis(500))
            .max_retries(1)
            .env_lookup(|_| None)
            .build()
            .unwrap(),
    )
}

fn total_calls(emu: &Emulator) -> u64 {
    let c = emu.counters();
    Route::ALL.iter().map(|r| c.calls(*r)).sum()
}

fn bad_request_ids_send_nothing<A: Adapter>() {
    let emu = emulator();
    let a = agent::<A>(&emu);
    let long = "x".repeat(10 * 1024);
    for id in [
        "", "   ", "..", ".", "a/b", "/", "%2F", "a%2Fb", "a\u{0}b", "a\nb", "a\tb", &long, "é",
        "ключ", "a b",
    ] {
        let err = a.login(id).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    argument: "request_id",
                    ..
                }
            ),
            "{id:?}: {err:?}"
        );
        if id.len() > 3 {
            assert!(!err.to_string().contains(id), "the id is not echoed: {err}");
        }
    }
    assert_eq!(
        total_calls(&emu),
        0,
        "no request was sent for invalid input"
    );
}

#[test]
fn bad_tokens_and_base_urls_are_refused_before_any_request() {
    for token in ["", "   ", "\n"] {
        assert!(
            matches!(AgentToken::new(token), Err(Error::Authentication { .. })),
            "{token:?}"
        );
    }
    for token in ["at_a\r\nX-Injected: 1", "at_a\nb", "at_é", "at_a b"] {
        assert!(
            matches!(AgentToken::new(token), Err(Error::Config { .. })),
            "{token:?}"
        );
    }
    for url in [
        "lime.pics/api/v1",
        "//lime.pics/api/v1",
        "https://user:pw@lime.pics/api/v1",
        "https://lime.pics/api/v1?x=1",
        "https://lime.pics/api/v1#f",
        "http://lime.pics/api/v1",
        "http://192.168.1.10/api/v1",
        "ftp://lime.pics/",
    ] {
        assert!(
            matches!(BaseUrl::parse(url, false), Err(Error::Config { .. })),
            "{url}"
        );
    }
}

/// A raw answer to the challenge read: its name, body, status, and a check
/// of the error it must give.
type Answer = (&'static str, RawBody, u16, fn(&Error) -> bool);

fn read_answers() -> Vec<Answer> {
    let invalid = |e: &Error| matches!(e, Error::InvalidResponse { .. });
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)).into_bytes();
    let data = |d: &str| format!(r#"{{"ok":true,"data":{d}}}"#).into_bytes();
    vec![
        (
            "non-JSON",
            RawBody::Bytes(b"<html>oops</html>".to_vec()),
            200,
            invalid,
        ),
        (
            "a JSON array",
            RawBody::Bytes(b"[1,2,3]".to_vec()),
            200,
            invalid,
        ),
        ("deep nesting", RawBody::Bytes(deep), 200, invalid),
        (
            "ok without data",
            RawBody::Bytes(br#"{"ok":true}"#.to_vec()),
            200,
            invalid,
        ),
        (
            "missing challenge",
            RawBody::Bytes(data(r#"{"pow_difficulty":4}"#)),
            200,
            invalid,
        ),
        (
            "missing difficulty",
            RawBody::Bytes(data(r#"{"pow_challenge":"c"}"#)),
            200,
            invalid,
        ),
        (
            "challenge a number",
            RawBody::Bytes(data(r#"{"pow_challenge":5,"pow_difficulty":4}"#)),
            200,
            invalid,
        ),
        (
            "difficulty 300",
            RawBody::Bytes(data(r#"{"pow_challenge":"c","pow_difficulty":300}"#)),
            200,
            invalid,
        ),
        (
            "difficulty a string",
            RawBody::Bytes(data(r#"{"pow_challenge":"c","pow_difficulty":"15"}"#)),
            200,
            invalid,
        ),
        (
            "difficulty a float",
            RawBody::Bytes(data(r#"{"pow_challenge":"c","pow_difficulty":15.5}"#)),
            200,
            invalid,
        ),
        (
            "status a number",
            RawBody::Bytes(data(
                r#"{"status":1,"pow_challenge":"c","pow_difficulty":4}"#,
            )),
            200,
            invalid,
        ),
        ("a redirect", RawBody::Bytes(Vec::new()), 302, invalid),
        (
            "an error without error",
            RawBody::Bytes(br#"{"ok":false}"#.to_vec()),
            400,
            invalid,
        ),
        (
            "a 100 MB body",
            RawBody::Repeat {
                byte: b'{',
                len: 100_000_000,
            },
            200,
            invalid,
        ),
        (
            "a body that never ends",
            RawBody::Endless,
            200,
            |e| matches!(e, Error::Transport(t) if t.kind() == TransportErrorKind::Timeout),
        ),
    ]
}

fn hostile_answers_end_in_typed_errors<A: Adapter>() {
    for (name, body, status, expected) in read_answers() {
        let emu = emulator();
        let headers = if status == 302 {
            vec![("location".to_owned(), "http://evil.example/".to_owned())]
        } else {
            vec![]
        };
        emu.inject_always(
            Route::ReadRequest,
            Fault::Raw {
                status,
                headers,
                body,
            },
        );
        let id = emu.create_request();
        let err = agent::<A>(&emu).login(&id).unwrap_err();
        assert!(expected(&err), "{name}: {err:?}");
        assert_eq!(
            emu.counters().calls(Route::Approve),
            0,
            "{name}: nothing solved or approved"
        );
    }
}

fn a_negative_difficulty_is_solved_as_zero<A: Adapter>() {
    let emu = emulator();
    let id = emu.create_request_with("c0ffee", -7);
    agent::<A>(&emu).login(&id).unwrap();
    assert_eq!(emu.counters().approvals(&id), 1);
}

fn a_512_kib_challenge_is_solved_and_one_over_the_limit_refused<A: Adapter>() {
    let emu = emulator();
    let big = "é".repeat(256 * 1024); // 512 KiB of two-byte UTF-8
    let id = emu.create_request_with(&big, 8);
    agent::<A>(&emu).login(&id).unwrap();
    assert_eq!(emu.counters().approvals(&id), 1);
    let too_big = "x".repeat(1024 * 1024 + 1);
    let id = emu.create_request_with(&too_big, 8);
    assert!(matches!(
        agent::<A>(&emu).login(&id),
        Err(Error::InvalidResponse { .. })
    ));
    assert_eq!(
        emu.counters().calls(Route::ReadRequest),
        2,
        "an oversized body is not retried"
    );
}

fn hostile_approve_and_profile_answers<A: Adapter>() {
    let cases: Vec<(Route, RawBody, u16)> = vec![
        (Route::Approve, RawBody::Bytes(br#"{"ok":true,"data":{"request_id":5}}"#.to_vec()), 200),
        (Route::Approve, RawBody::Bytes(br#"{"ok":true,"data":{"request_id":"r","site_id":"s","status":"APPROVED","expires_at":"yesterday"}}"#.to_vec()), 200),
        (Route::Profile, RawBody::Bytes(br#"{"ok":true,"data":{"agent_id":1,"user_id":"u"}}"#.to_vec()), 200),
        (Route::Profile, RawBody::Bytes(br#"{"ok":true,"data":{"agent_id":"a"}}"#.to_vec()), 200),
        (Route::Profile, RawBody::Bytes(br#"{"ok":true,"data":{"agent_id":"a","user_id":"u","owner_kyc_level":"high"}}"#.to_vec()), 200),
    ];
    for (route, body, status) in cases {
        let emu = emulator();
        emu.inject_always(
            route,
            Fault::Raw {
                status,
                headers: vec![],
                body,
            },
        );
        let a = agent::<A>(&emu);
        let err = if route == Route::Profile {
            a.profile().unwrap_err()
        } else {
            a.login(&emu.create_request()).unwrap_err()
        };
        match err {
            Error::InvalidResponse { reason, .. } => {
                assert!(reason.contains('`'), "names the field: {reason}")
            }
            other => panic!("{route}: {other:?}"),
        }
    }
}

lime_tests::for_both_adapters!(
    bad_request_ids_send_nothing,
    hostile_answers_end_in_typed_errors,
    a_negative_difficulty_is_solved_as_zero,
    a_512_kib_challenge_is_solved_and_one_over_the_limit_refused,
    hostile_approve_and_profile_answers,
);
