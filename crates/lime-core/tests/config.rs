//! Configuration: arguments, then environment, then defaults; and refusals.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::Duration;

use lime_core::{AgentToken, BaseUrl, Config, Error, PowSchemeChoice};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn defaults_are_documented_values() {
    let c = Config::builder()
        .token("at_x")
        .env_lookup(env(&[]))
        .build()
        .unwrap();
    assert_eq!(c.base_url().as_str(), "https://lime.pics/api/v1");
    assert_eq!(c.timeout(), Duration::from_secs(30));
    assert_eq!(c.max_retries(), 3);
    assert_eq!(c.pow_timeout(), Duration::from_secs(10));
    assert_eq!(c.deadline(), None);
    assert_eq!(c.pow_scheme(), PowSchemeChoice::Auto);
    assert_eq!(c.max_body_bytes(), 1024 * 1024);
    assert!(c.user_agent().starts_with("lime-rust/"));
}

#[test]
fn arguments_win_over_the_environment() {
    let e = env(&[
        ("LIME_AGENT_TOKEN", "at_env"),
        ("LIME_API_BASE", "https://env.example/api/v1"),
        ("LIME_POW_SCHEME", "legacy"),
    ]);
    let c = Config::builder()
        .token("at_arg")
        .base_url("https://arg.example/api/v1/")
        .pow_scheme(PowSchemeChoice::V1)
        .env_lookup(e)
        .build()
        .unwrap();
    assert_eq!(c.token().unwrap().expose_secret(), "at_arg");
    assert_eq!(c.base_url().as_str(), "https://arg.example/api/v1");
    assert_eq!(c.pow_scheme(), PowSchemeChoice::V1);
}

#[test]
fn the_environment_fills_what_arguments_leave_out() {
    let e = env(&[
        ("LIME_AGENT_TOKEN", "  at_env \n"),
        ("LIME_API_BASE", "http://localhost:8080/api/v1/"),
        ("LIME_POW_SCHEME", "LEGACY"),
    ]);
    let c = Config::builder().env_lookup(e).build().unwrap();
    assert_eq!(c.token().unwrap().expose_secret(), "at_env");
    assert_eq!(c.base_url().as_str(), "http://localhost:8080/api/v1");
    assert_eq!(c.pow_scheme(), PowSchemeChoice::Legacy);
}

#[test]
fn a_missing_or_empty_token_is_an_authentication_error_naming_both_sources() {
    for token in [None, Some(""), Some("  \t ")] {
        let mut b = Config::builder().env_lookup(env(&[]));
        if let Some(t) = token {
            b = b.token(t);
        }
        match b.build() {
            Err(Error::Authentication { message, .. }) => {
                assert!(
                    message.contains("LIME_AGENT_TOKEN") && message.contains("builder"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn tokens_that_cannot_be_a_header_are_config_errors_that_do_not_echo_them() {
    for token in ["at_a\r\nX-Evil: 1", "at_é", "at_a b", "at_\u{7f}"] {
        match AgentToken::new(token) {
            Err(Error::Config { reason, .. }) => assert!(!reason.contains("at_"), "{reason}"),
            other => panic!("{token:?}: {other:?}"),
        }
    }
}

#[test]
fn bad_base_urls_are_refused_with_the_reason() {
    for (url, why) in [
        ("lime.pics/api/v1", "scheme"),
        ("ftp://lime.pics/api", "not http or https"),
        ("https://user:pw@lime.pics/api/v1", "user info"),
        ("https://lime.pics/api/v1?x=1", "query"),
        ("https://lime.pics/api/v1#top", "fragment"),
        ("http://lime.pics/api/v1", "loopback"),
        ("http://10.0.0.1/api/v1", "loopback"),
        ("http://127.0.0.1.evil.example/api", "loopback"),
        ("https:///api", ""),
    ] {
        match BaseUrl::parse(url, false) {
            Err(Error::Config { reason, .. }) => assert!(reason.contains(why), "{url}: {reason}"),
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[test]
fn plain_http_is_fine_on_loopback_and_with_an_explicit_opt_in() {
    for url in [
        "http://localhost/api/v1",
        "http://127.0.0.1:1/api/v1",
        "http://127.9.8.7/api",
        "http://[::1]:80/api/v1",
    ] {
        assert!(BaseUrl::parse(url, false).is_ok(), "{url}");
    }
    let opted = Config::builder()
        .token("at_x")
        .base_url("http://lime.internal/api/v1")
        .allow_http(true)
        .env_lookup(env(&[]))
        .build()
        .unwrap();
    assert!(!opted.base_url().is_https());
}

#[test]
fn an_unknown_scheme_or_zero_limits_are_config_errors() {
    let e = env(&[("LIME_POW_SCHEME", "sha1")]);
    assert!(matches!(
        Config::builder().token("at_x").env_lookup(e).build(),
        Err(Error::Config { .. })
    ));
    for b in [
        Config::builder().timeout(Duration::ZERO),
        Config::builder().pow_timeout(Duration::ZERO),
        Config::builder().max_body_bytes(0),
    ] {
        assert!(matches!(
            b.token("at_x").env_lookup(env(&[])).build(),
            Err(Error::Config { .. })
        ));
    }
}

#[test]
fn the_token_redacts_itself_everywhere() {
    let secret = "at_0123456789abcdef-secret";
    let token = AgentToken::new(secret).unwrap();
    assert_eq!(format!("{token:?}"), "AgentToken(at_…)");
    assert_eq!(format!("{token}"), "at_…");
    assert_eq!(
        format!("{:?}", AgentToken::new("short").unwrap()),
        "AgentToken(…)"
    );
    let config = Config::builder()
        .token(secret)
        .env_lookup(env(&[]))
        .build()
        .unwrap();
    assert!(!format!("{config:?}").contains("0123456789"));
    let builder = Config::builder().token(secret);
    assert!(!format!("{builder:?}").contains("0123456789"));
}

#[test]
fn lime_ca_cert_is_kept_as_a_path_for_the_adapters_to_read() {
    let build = |path: &str| {
        Config::builder()
            .token("at_x")
            .env_lookup(env(&[("LIME_CA_CERT", path)]))
            .build()
            .unwrap()
    };
    let named = build(" /etc/lime/ca.pem ");
    assert_eq!(
        named.ca_cert_file(),
        Some(std::path::Path::new("/etc/lime/ca.pem"))
    );
    assert_eq!(build("  ").ca_cert_file(), None);
}
