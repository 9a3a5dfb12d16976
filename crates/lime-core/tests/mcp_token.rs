//! MCP access tokens without sockets: the mint's answers (good and
//! hostile), the cache rule on a simulated clock, and the flow's retries.
#![allow(clippy::disallowed_methods)] // tests own their clock
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

mod scenario;

use lime_core::mcp::{McpCall, McpTarget, Verdict, Want, parse_token_response};
use lime_core::{Config, Error};
use scenario::{TOKEN, agent_state, minted, scenario};

const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl";

fn answer(status: u16, cache_control: Option<&str>, body: &str) -> http::Response<Vec<u8>> {
    let mut builder = http::Response::builder().status(status);
    if let Some(value) = cache_control {
        builder = builder.header("cache-control", value);
    }
    builder.body(body.as_bytes().to_vec()).unwrap()
}

fn parse(response: &http::Response<Vec<u8>>) -> Result<lime_core::mcp::McpAccessToken, Error> {
    parse_token_response(response, "mcp.example.com", Instant::now(), 1 << 20)
}

#[test]
fn a_good_answer_is_a_token_that_never_shows_itself() {
    let body = format!(
        r#"{{"access_token":"{JWT}","token_type":"bearer","expires_in":600,"scope":"mcp"}}"#
    );
    let token = parse(&answer(200, Some("no-store, private"), &body)).unwrap();
    assert_eq!(token.expose_secret(), JWT);
    assert_eq!(
        (token.token_type(), token.domain()),
        ("bearer", "mcp.example.com")
    );
    assert_eq!(token.expires_in(), Duration::from_secs(600));
    assert!(token.authorization().is_sensitive());
    assert_eq!(token.authorization(), format!("Bearer {JWT}").as_str());
    for shown in [format!("{token:?}"), token.to_string()] {
        assert!(
            !shown.contains(JWT) && !shown.contains("c2lnbmF0dXJl"),
            "{shown}"
        );
        assert!(shown.contains("mcp.example.com"), "{shown}");
    }
}

#[test]
fn every_hostile_success_body_is_an_invalid_response() {
    let ok = |extra: &str| {
        format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":600{extra}}}"#)
    };
    let cases: Vec<(Option<&str>, String, &str)> = vec![
        (None, ok(""), "no-store"),
        (Some("no-cache"), ok(""), "no-store"),
        (
            Some("no-store"),
            r#"{"access_token":"a.b.c","token_type":"MAC","expires_in":600}"#.into(),
            "Bearer",
        ),
        (
            Some("no-store"),
            r#"{"access_token":"not-a-jwt","token_type":"Bearer","expires_in":600}"#.into(),
            "JWT",
        ),
        (
            Some("no-store"),
            r#"{"access_token":"a..c","token_type":"Bearer","expires_in":600}"#.into(),
            "JWT",
        ),
        (
            Some("no-store"),
            r#"{"access_token":"a.b.c.d","token_type":"Bearer","expires_in":600}"#.into(),
            "JWT",
        ),
        (
            Some("no-store"),
            r#"{"access_token":"a.b+.c","token_type":"Bearer","expires_in":600}"#.into(),
            "JWT",
        ),
        (
            Some("no-store"),
            r#"{"access_token":7,"token_type":"Bearer","expires_in":600}"#.into(),
            "access_token",
        ),
        (
            Some("no-store"),
            r#"{"token_type":"Bearer","expires_in":600}"#.into(),
            "access_token",
        ),
        (
            Some("no-store"),
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":0}}"#),
            "expires_in",
        ),
        (
            Some("no-store"),
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":-5}}"#),
            "expires_in",
        ),
        (
            Some("no-store"),
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":"600"}}"#),
            "expires_in",
        ),
        (
            Some("no-store"),
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":1.5}}"#),
            "expires_in",
        ),
        (
            Some("no-store"),
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer"}}"#),
            "expires_in",
        ),
        (Some("no-store"), "<html>".into(), "JSON object"),
        (
            Some("no-store"),
            format!(r#"{{"ok":true,"data":{{"access_token":"{JWT}"}}}}"#),
            "access_token",
        ),
    ];
    for (cache_control, body, why) in cases {
        match parse(&answer(200, cache_control, &body)) {
            Err(error @ Error::InvalidResponse { .. }) => {
                assert_eq!(error.code(), Some("INVALID_TOKEN_RESPONSE"), "{error}");
                let Error::InvalidResponse { reason, .. } = error else {
                    unreachable!()
                };
                assert!(reason.contains(why), "{body}: {reason}");
                assert!(!reason.contains(JWT), "the reason quotes the token");
            }
            other => panic!("{body} with {cache_control:?} was {other:?}"),
        }
    }
}

#[test]
fn both_error_shapes_map_to_their_kinds() {
    let rfc = |status, error: &str| {
        answer(
            status,
            Some("no-store"),
            &format!(r#"{{"error":"{error}","error_description":"why"}}"#),
        )
    };
    assert!(matches!(
        parse(&rfc(401, "invalid_client")),
        Err(Error::Authentication {
            http_status: Some(401),
            ..
        })
    ));
    assert!(matches!(
        parse(&rfc(400, "invalid_client")),
        Err(Error::Authentication { .. })
    ));
    let denied = parse(&rfc(403, "access_denied")).unwrap_err();
    assert!(
        denied.is_oauth_capability_missing() && !denied.is_retryable(),
        "{denied}"
    );
    assert!(denied.to_string().contains("oauth:mcp"), "{denied}");
    let limited = http::Response::builder()
        .status(429)
        .header("retry-after", "3")
        .body(br#"{"error":"slow_down"}"#.to_vec())
        .unwrap();
    let limited = parse(&limited).unwrap_err();
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    let api = parse(&rfc(400, "invalid_request")).unwrap_err();
    assert_eq!(
        (api.code(), api.http_status()),
        (Some("invalid_request"), Some(400))
    );
    // The LIME envelope keeps its meaning.
    let envelope = |status, code: &str| {
        answer(
            status,
            None,
            &format!(r#"{{"ok":false,"error":{{"code":"{code}","message":"m"}}}}"#),
        )
    };
    assert!(
        parse(&envelope(403, "AGENT_INACTIVE"))
            .unwrap_err()
            .is_agent_inactive()
    );
    let down = parse(&envelope(503, "AUTH_UNAVAILABLE")).unwrap_err();
    assert!(down.is_auth_unavailable() && down.is_retryable());
    let html = parse(&answer(502, None, "<html>bad gateway</html>")).unwrap_err();
    assert!(
        matches!(
            html,
            Error::InvalidResponse {
                http_status: Some(502),
                ..
            }
        ) && html.is_retryable()
    );
}

fn config() -> Config {
    Config::builder()
        .token("at_example-token")
        .base_url("http://127.0.0.1:9/api/v1")
        .max_retries(2)
        .env_lookup(|_| None)
        .build()
        .unwrap()
}

fn limited(seconds: u32) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(429)
        .header("retry-after", seconds.to_string())
        .body(br#"{"error":"slow_down"}"#.to_vec())
        .unwrap()
}

#[test]
fn the_mint_posts_the_domain_with_the_agent_token_and_retries_like_a_read() {
    let state = agent_state();
    let t0 = Instant::now();
    let run = scenario()
        .reply(503, "{}")
        .reply_with(limited(2))
        .reply_with(minted(60))
        .mint(&state, "https://MCP.example.com:8443/mcp", Want::Fresh, t0);
    let first = &run.requests[0];
    assert_eq!(first.method(), "POST");
    assert_eq!(first.uri().path(), "/api/v1/modules/oauth/token");
    assert_eq!(first.headers()["x-agent-token"], TOKEN);
    assert_eq!(first.body(), br#"{"domain":"mcp.example.com"}"#);
    assert_eq!(run.count("POST /modules/oauth/token"), 3);
    assert_eq!(run.waits[1], Duration::from_secs(2), "Retry-After honoured");
    let ticket = run.result.unwrap();
    assert_eq!(ticket.token().domain(), "mcp.example.com");
    assert_eq!(ticket.token().minted_at(), t0 + run.elapsed);
}

#[test]
fn a_refused_grant_is_not_retried_and_not_cached() {
    let state = agent_state();
    let t0 = Instant::now();
    let run = scenario().reply(403, r#"{"error":"access_denied"}"#).mint(
        &state,
        "mcp.example.com",
        Want::Fresh,
        t0,
    );
    assert!(matches!(run.result, Err(Error::OAuthCapability { .. })));
    assert_eq!(run.requests.len(), 1);
    // The next caller mints again: a failure is never cached.
    let again = scenario()
        .reply_with(minted(600))
        .mint(&state, "mcp.example.com", Want::Fresh, t0);
    assert_eq!(again.requests.len(), 1);
}

#[test]
fn a_finished_mint_is_in_the_cache_with_nothing_for_the_driver_to_finish() {
    let state = agent_state();
    let t0 = Instant::now();
    let minted_run = scenario()
        .reply_with(minted(600))
        .mint(&state, "a.example", Want::Fresh, t0);
    let ticket = minted_run.result.unwrap();
    // The next ask is answered from the cache, with the same ticket.
    let cached = scenario().mint(
        &state,
        "a.example",
        Want::Fresh,
        t0 + Duration::from_secs(1),
    );
    assert!(cached.requests.is_empty());
    assert_eq!(cached.result.unwrap(), ticket);
}

#[test]
fn a_token_is_reused_until_expires_in_minus_skew_on_a_simulated_clock() {
    let state = agent_state();
    let t0 = Instant::now();
    let ticket = scenario()
        .reply_with(minted(600))
        .mint(&state, "a.example", Want::Fresh, t0)
        .result
        .unwrap();
    let minted_at = ticket.token().minted_at();
    let at = |secs| minted_at + Duration::from_secs(secs);
    assert!(
        scenario()
            .mint(&state, "a.example", Want::Fresh, at(569))
            .requests
            .is_empty()
    );
    let other = scenario()
        .reply_with(minted(600))
        .mint(&state, "b.example", Want::Fresh, at(1));
    assert_eq!(other.requests.len(), 1, "tokens are per domain");
    let renewed =
        scenario()
            .reply_with(minted(600))
            .mint(&state, "a.example", Want::Fresh, at(570));
    assert_eq!(renewed.requests.len(), 1, "stale at 600 − 30 s");
    assert!(renewed.result.unwrap().generation() > ticket.generation());
}

#[test]
fn a_token_no_longer_than_the_skew_is_reused_for_half_its_life() {
    // 20 s of life under a 30 s skew: reused for 10 s instead of a mint per call.
    let state = agent_state();
    let t0 = Instant::now();
    let ticket = scenario()
        .reply_with(minted(20))
        .mint(&state, "short.example", Want::Fresh, t0)
        .result
        .unwrap();
    let at = |ms| ticket.token().minted_at() + Duration::from_millis(ms);
    for ms in [0, 5_000, 9_999] {
        let run = scenario().mint(&state, "short.example", Want::Fresh, at(ms));
        assert!(run.requests.is_empty(), "reused at {ms} ms");
    }
    let run =
        scenario()
            .reply_with(minted(20))
            .mint(&state, "short.example", Want::Fresh, at(10_000));
    assert_eq!(run.requests.len(), 1, "minted anew at half its life");
}

#[test]
fn callers_wanting_newer_than_one_generation_share_the_mint_made_after_it() {
    let state = agent_state();
    let t0 = Instant::now();
    let target = McpTarget::parse("a.example", false).unwrap();
    assert_eq!(
        state.mcp_refresh(&target),
        Want::Fresh,
        "nothing cached yet"
    );
    let refused = scenario()
        .reply_with(minted(600))
        .mint(&state, "a.example", Want::Fresh, t0)
        .result
        .unwrap();
    let want = state.mcp_refresh(&target);
    assert_eq!(want, Want::NewerThan(refused.generation()));
    // The first caller mints ...
    let newer = scenario()
        .reply_with(minted(600))
        .mint(&state, "a.example", want, t0);
    assert_eq!(newer.requests.len(), 1);
    let newer = newer.result.unwrap();
    // ... and every caller that saw the same refused token shares it.
    for _ in 0..3 {
        let shared = scenario().mint(&state, "a.example", want, t0);
        assert!(shared.requests.is_empty());
        assert_eq!(shared.result.unwrap(), newer);
    }
}

#[test]
fn the_call_rule_resends_once_after_a_refusal_then_fails_with_mcp_auth_failed() {
    let state = agent_state();
    let t0 = Instant::now();
    let first = scenario()
        .reply_with(minted(600))
        .mint(&state, "mcp.example.com", Want::Fresh, t0)
        .result
        .unwrap();
    let mut call = McpCall::new("mcp.example.com");
    assert!(
        McpCall::reuses(first.generation(), &first),
        "a session on this token"
    );
    // The server refused the token: a newer one, and the request once more.
    let Verdict::Resend(want) = call.refused(first.generation(), "") else {
        panic!("the first 401 is answered by a refresh")
    };
    let second = scenario()
        .reply_with(minted(600))
        .mint(&state, "mcp.example.com", want, t0)
        .result
        .unwrap();
    assert!(
        !McpCall::reuses(first.generation(), &second),
        "a new token, a new session"
    );
    let Verdict::Fail(error) = call.refused(
        second.generation(),
        "Bearer error=\"invalid_token\"\u{1b}]0;x",
    ) else {
        panic!("the second 401 is final")
    };
    assert_eq!(error.code(), Some("MCP_AUTH_FAILED"));
    let text = error.to_string();
    assert!(
        text.contains("mcp.example.com") && text.contains("invalid_token"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "server text is escaped: {text:?}");
}

#[test]
fn the_skew_comes_from_the_builder_then_the_environment() {
    let with_env = |value: &'static str| {
        Config::builder()
            .token("at_x")
            .env_lookup(move |name| (name == "LIME_MCP_TOKEN_SKEW").then(|| value.to_owned()))
            .build()
    };
    assert_eq!(config().mcp_token_skew(), Duration::from_secs(30));
    assert_eq!(
        with_env("12.5").unwrap().mcp_token_skew(),
        Duration::from_millis(12_500)
    );
    for bad in ["-1", "soon", "NaN", "1e9"] {
        let error = with_env(bad).unwrap_err().to_string();
        assert!(error.contains("LIME_MCP_TOKEN_SKEW"), "{bad}: {error}");
    }
    let set = Config::builder()
        .token("at_x")
        .mcp_token_skew(Duration::from_secs(5))
        .env_lookup(|name| (name == "LIME_MCP_TOKEN_SKEW").then(|| "12".to_owned()))
        .build()
        .unwrap();
    assert_eq!(
        set.mcp_token_skew(),
        Duration::from_secs(5),
        "the builder wins"
    );
}
