//! MCP access tokens without sockets: the mint's answers (good and
//! hostile), the cache rule on a simulated clock, and the flow's retries.
#![allow(clippy::disallowed_methods)] // tests own their clock
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use lime_core::mcp::{McpTarget, MintToken, TokenCache, parse_token_response};
use lime_core::{Config, Error, drive::Output};

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
            Err(Error::InvalidResponse { reason, .. }) => {
                assert!(reason.starts_with("INVALID_TOKEN_RESPONSE"), "{reason}");
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

#[test]
fn the_mint_posts_the_domain_with_the_agent_token_and_retries_like_a_read() {
    let now = Instant::now();
    let target = McpTarget::parse("https://MCP.example.com:8443/mcp", false).unwrap();
    let mut mint = MintToken::new(&config(), &target, now);
    let Output::Send(first) = mint.poll_output() else {
        panic!()
    };
    assert_eq!(first.request.method(), "POST");
    assert_eq!(first.request.uri().path(), "/api/v1/modules/oauth/token");
    assert_eq!(first.request.headers()["x-agent-token"], "at_example-token");
    assert_eq!(first.request.body(), br#"{"domain":"mcp.example.com"}"#);
    // 503, then 429 with Retry-After 2 s, then the token.
    mint.handle_response(answer(503, None, "{}"), now);
    let Output::Wait(until) = mint.poll_output() else {
        panic!()
    };
    mint.handle_timeout(until);
    let Output::Send(_) = mint.poll_output() else {
        panic!()
    };
    let limited = http::Response::builder()
        .status(429)
        .header("retry-after", "2")
        .body(br#"{"error":"slow_down"}"#.to_vec())
        .unwrap();
    mint.handle_response(limited, until);
    let Output::Wait(after) = mint.poll_output() else {
        panic!()
    };
    assert_eq!(
        after - until,
        Duration::from_secs(2),
        "Retry-After honoured"
    );
    mint.handle_timeout(after);
    let Output::Send(_) = mint.poll_output() else {
        panic!()
    };
    let body = format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":60}}"#);
    mint.handle_response(answer(200, Some("no-store"), &body), after);
    let Output::Done(Ok(token)) = mint.poll_output() else {
        panic!()
    };
    assert_eq!(token.domain(), "mcp.example.com");
    assert_eq!(token.minted_at(), after);
}

#[test]
fn a_refused_grant_is_not_retried() {
    let now = Instant::now();
    let target = McpTarget::parse("mcp.example.com", false).unwrap();
    let mut mint = MintToken::new(&config(), &target, now);
    let Output::Send(_) = mint.poll_output() else {
        panic!()
    };
    mint.handle_response(
        answer(403, Some("no-store"), r#"{"error":"access_denied"}"#),
        now,
    );
    assert!(matches!(
        mint.poll_output(),
        Output::Done(Err(Error::OAuthCapability { .. }))
    ));
}

/// A token minted at `at` for `domain`, valid `secs` seconds.
fn minted(domain: &str, at: Instant, secs: u64) -> lime_core::mcp::McpAccessToken {
    let body = format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":{secs}}}"#);
    parse_token_response(&answer(200, Some("no-store"), &body), domain, at, 1 << 20).unwrap()
}

#[test]
fn the_cache_keeps_a_token_until_expires_in_minus_skew_on_a_simulated_clock() {
    let t0 = Instant::now();
    let mut cache = TokenCache::new(Duration::from_secs(30));
    assert!(cache.fresh("a.example", t0).is_none());
    let first = cache.store(minted("a.example", t0, 600));
    assert!(
        cache
            .fresh("a.example", t0 + Duration::from_secs(569))
            .is_some()
    );
    assert!(
        cache
            .fresh("a.example", t0 + Duration::from_secs(570))
            .is_none(),
        "stale at 600 − 30 s"
    );
    assert!(cache.fresh("b.example", t0).is_none(), "per domain");
    // A token shorter than the skew is never fresh.
    cache.store(minted("short.example", t0, 20));
    assert!(cache.fresh("short.example", t0).is_none());
    // Every mint gets a new generation.
    let second = cache.store(minted("a.example", t0 + Duration::from_secs(570), 600));
    assert_ne!(first, second);
    assert_eq!(cache.generation("a.example"), Some(second));
    cache.invalidate("a.example");
    assert!(cache.get("a.example").is_none());
}

#[test]
fn concurrent_forced_refreshes_share_the_mint_made_after_they_asked() {
    let t0 = Instant::now();
    let mut cache = TokenCache::new(Duration::from_secs(30));
    cache.store(minted("a.example", t0, 600));
    let seen = cache.generation("a.example");
    // Before anyone refreshed: a forced caller must mint.
    assert!(cache.usable("a.example", t0, true, seen).is_none());
    assert!(cache.usable("a.example", t0, false, seen).is_some());
    // Another caller refreshed meanwhile: this one uses that token.
    cache.store(minted("a.example", t0, 600));
    assert!(cache.usable("a.example", t0, true, seen).is_some());
    // A forced caller that saw nothing cached uses whatever was minted since.
    assert!(cache.usable("b.example", t0, true, None).is_none());
    cache.store(minted("b.example", t0, 600));
    assert!(cache.usable("b.example", t0, true, None).is_some());
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
