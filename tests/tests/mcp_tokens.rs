//! MCP access tokens over real loopback sockets to the emulator, for both
//! adapters: the happy path with the token checked against the JWKS, the
//! cache and its refresh, single flight, every error kind and every hostile
//! success body.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lime_core::{Config, ConfigBuilder, Error};
use lime_emulator::{BlockingEmulator, Emulator, EmulatorBuilder, Fault, RawBody, Route};
use lime_tests::Adapter;

fn emulator(tweak: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder) -> BlockingEmulator {
    tweak(Emulator::builder().difficulty(4))
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

fn mints(emu: &Emulator) -> u64 {
    emu.counters().calls(Route::OAuthToken)
}

fn a_token_is_minted_scoped_and_signed_as_the_protocol_says<A: Adapter>() {
    let emu = emulator(|b| b);
    let agent: A = agent(&emu, |b| b);
    let token = agent
        .mcp_token("https://MCP.Example.com:8443/mcp", false)
        .unwrap();
    assert_eq!(token.domain(), "mcp.example.com");
    assert!(token.token_type().eq_ignore_ascii_case("bearer"));
    assert_eq!(token.expires_in(), Duration::from_secs(600));
    let claims =
        lime_emulator::passport::verify_signature(token.expose_secret(), &emu.jwks()).unwrap();
    assert_eq!(claims["aud"], lime_emulator::MCP_AUDIENCE);
    assert_eq!(claims["iss"], emu.origin());
    assert_eq!(claims["sub"], emu.agent_id());
    assert_eq!(claims["domain"], "mcp.example.com");
    assert_eq!(claims["scope"], "mcp");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert_eq!(emu.counters().mints("mcp.example.com"), 1);
}

/// When a token goes stale is lime-core's rule, tested on a simulated clock
/// (`crates/lime-core/tests/mcp_token.rs`); here, that both adapters reuse
/// and force as it says.
fn the_cache_answers_until_a_forced_refresh_mints_again<A: Adapter>() {
    let emu = emulator(|b| b);
    let agent: A = agent(&emu, |b| b);
    let first = agent.mcp_token("mcp.example.com", false).unwrap();
    let again = agent
        .mcp_token("https://mcp.example.com/mcp", false)
        .unwrap();
    assert_eq!(again.expose_secret(), first.expose_secret());
    assert_eq!(mints(&emu), 1, "a second call makes no request");
    // Forced: a new mint even though the token is fresh, then reused.
    let forced = agent.mcp_token("mcp.example.com", true).unwrap();
    assert_eq!(mints(&emu), 2);
    assert_ne!(forced.expose_secret(), first.expose_secret());
    let after = agent.mcp_token("mcp.example.com", false).unwrap();
    assert_eq!(after.expose_secret(), forced.expose_secret());
    assert_eq!(mints(&emu), 2);
}

fn sixty_four_callers_for_a_cold_domain_make_one_mint<A: Adapter + Sync>() {
    let emu = emulator(|b| b);
    // The first mint stays in flight long enough for every caller to queue.
    emu.inject(
        Route::OAuthToken,
        Fault::DelayHeaders(Duration::from_millis(400)),
        1,
    );
    let agent: A = agent(&emu, |b| b);
    let tokens: Vec<String> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..64)
            .map(|_| scope.spawn(|| agent.mcp_token("mcp.example.com", false).unwrap()))
            .collect();
        callers
            .into_iter()
            .map(|c| c.join().unwrap().expose_secret().to_owned())
            .collect()
    });
    assert_eq!(mints(&emu), 1, "exactly one POST");
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    // Concurrent forced refreshes, all asked while the refresh is in
    // flight, share one mint too.
    emu.inject(
        Route::OAuthToken,
        Fault::DelayHeaders(Duration::from_millis(400)),
        1,
    );
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| agent.mcp_token("mcp.example.com", true).unwrap());
        }
    });
    assert_eq!(mints(&emu), 2);
}

fn a_slow_mint_never_blocks_another_domain<A: Adapter + Sync>() {
    let emu = emulator(|b| b);
    emu.inject(
        Route::OAuthToken,
        Fault::DelayHeaders(Duration::from_millis(1500)),
        1,
    );
    let agent: A = agent(&emu, |b| b);
    let slow_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            agent.mcp_token("slow.example.com", false).unwrap();
            slow_done.store(true, Ordering::SeqCst);
        });
        while mints(&emu) == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        agent.mcp_token("fast.example.com", false).unwrap();
        assert!(
            !slow_done.load(Ordering::SeqCst),
            "the other domain waited for the slow mint"
        );
    });
}

fn a_failed_mint_is_not_cached<A: Adapter>() {
    let emu = emulator(|b| b);
    emu.inject(
        Route::OAuthToken,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        1,
    );
    let agent: A = agent(&emu, |b| b.max_retries(0));
    assert!(agent.mcp_token("mcp.example.com", false).is_err());
    agent.mcp_token("mcp.example.com", false).unwrap();
    assert_eq!(mints(&emu), 2);
}

fn each_error_kind<A: Adapter>() {
    let emu = emulator(|b| {
        b.agent("agent_a", "at_granted")
            .agent_without_mcp_grant("agent_b", "at_refused")
    });
    let refused: A = agent(&emu, |b| b.token("at_refused"));
    let error = refused.mcp_token("mcp.example.com", false).unwrap_err();
    assert!(error.is_oauth_capability_missing(), "{error:?}");
    let unknown: A = agent(&emu, |b| b.token("at_unknown"));
    assert!(matches!(
        unknown.mcp_token("mcp.example.com", false),
        Err(Error::Authentication {
            http_status: Some(401),
            ..
        })
    ));
    let good: A = agent(&emu, |b| b.token("at_granted").max_retries(1));
    // A refused target never reaches the server.
    let before = mints(&emu);
    for target in [
        "127.0.0.1",
        "localhost:8080",
        "https://user:pw@mcp.example.com",
        "http://mcp.example.com",
    ] {
        assert!(
            matches!(
                good.mcp_token(target, false),
                Err(Error::InvalidInput { .. })
            ),
            "{target}"
        );
    }
    assert_eq!(mints(&emu), before);
    let inactive = r#"{"ok":false,"error":{"code":"AGENT_INACTIVE","message":"inactive"}}"#;
    emu.inject(Route::OAuthToken, raw(403, &[], inactive), 1);
    assert!(
        good.mcp_token("a.example.com", false)
            .unwrap_err()
            .is_agent_inactive()
    );
    emu.inject(
        Route::OAuthToken,
        Fault::Status {
            status: 503,
            retry_after: Some(0),
        },
        2,
    );
    assert!(
        good.mcp_token("a.example.com", false)
            .unwrap_err()
            .is_auth_unavailable()
    );
    emu.inject(
        Route::OAuthToken,
        Fault::Status {
            status: 429,
            retry_after: Some(0),
        },
        1,
    );
    good.mcp_token("a.example.com", false).unwrap();
    emu.inject(
        Route::OAuthToken,
        Fault::Status {
            status: 429,
            retry_after: Some(7),
        },
        2,
    );
    let limited = agent::<A>(&emu, |b| b.token("at_granted").max_retries(0))
        .mcp_token("b.example.com", false)
        .unwrap_err();
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
}

fn raw(status: u16, headers: &[(&str, &str)], body: &str) -> Fault {
    Fault::Raw {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: RawBody::Bytes(body.as_bytes().to_vec()),
    }
}

fn every_hostile_success_body<A: Adapter>() {
    const JWT: &str = "aGVhZGVy.Y2xhaW1z.c2lnbmF0dXJl";
    let no_store = [("cache-control", "no-store")];
    let emu = emulator(|b| b);
    let agent: A = agent(&emu, |b| b.max_retries(0));
    // Extra keys are ignored.
    let extra = format!(
        r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":60,"refresh_token":"x"}}"#
    );
    emu.inject(Route::OAuthToken, raw(200, &no_store, &extra), 1);
    assert_eq!(
        agent
            .mcp_token("extra.example.com", false)
            .unwrap()
            .expose_secret(),
        JWT
    );
    let hostile = [
        (
            &[][..],
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":60}}"#),
        ),
        (
            &no_store[..],
            format!(r#"{{"access_token":"{JWT}","token_type":"MAC","expires_in":60}}"#),
        ),
        (
            &no_store[..],
            r#"{"access_token":"opaque","token_type":"Bearer","expires_in":60}"#.to_owned(),
        ),
        (
            &no_store[..],
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":0}}"#),
        ),
        (
            &no_store[..],
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":-1}}"#),
        ),
        (
            &no_store[..],
            format!(r#"{{"access_token":"{JWT}","token_type":"Bearer","expires_in":"60"}}"#),
        ),
        (&no_store[..], "not json".to_owned()),
    ];
    for (i, (headers, body)) in hostile.iter().enumerate() {
        emu.inject(Route::OAuthToken, raw(200, headers, body), 1);
        let domain = format!("hostile{i}.example.com");
        match agent.mcp_token(&domain, false) {
            Err(error @ Error::InvalidResponse { .. }) => {
                assert_eq!(error.code(), Some("INVALID_TOKEN_RESPONSE"), "{error}");
            }
            other => panic!("{body} ({headers:?}) gave {other:?}"),
        }
    }
}

lime_tests::for_both_adapters!(
    a_token_is_minted_scoped_and_signed_as_the_protocol_says,
    the_cache_answers_until_a_forced_refresh_mints_again,
    sixty_four_callers_for_a_cold_domain_make_one_mint,
    a_slow_mint_never_blocks_another_domain,
    a_failed_mint_is_not_cached,
    each_error_kind,
    every_hostile_success_body,
);
