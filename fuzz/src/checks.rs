#![allow(dead_code)] // each fuzz target uses one of these checks

//! The property each fuzz target checks, as plain functions: the fuzz
//! targets call them, and `tests/tests/fuzz_corpus.rs` replays the seed
//! corpora through them on stable.

use std::time::{Duration, Instant};

use lime_core::lime_pow::{ScanOutcome, Scheme, Search, verify_bytes};
use lime_core::{
    Config, Login,
    drive::{Output, TransportError, TransportErrorKind, classify},
};
use sha2::{Digest, Sha256};

/// A response from fuzz bytes: two bytes of status, the rest is the body.
fn response(data: &[u8]) -> http::Response<Vec<u8>> {
    let status = data.first().map_or(200, |&b| 100 + u16::from(b) * 2 % 500);
    let body = data.get(1..).unwrap_or_default().to_vec();
    http::Response::builder()
        .status(status)
        .body(body)
        .unwrap_or_default()
}

/// Classification never panics, and success means an object `data` in an
/// `ok: true` envelope with a 2xx-or-so status (never 3xx, 401 or 429).
pub(crate) fn envelope(data: &[u8]) {
    let r = response(data);
    if let Ok(map) = classify(&r, 1 << 20) {
        let status = r.status().as_u16();
        assert!(!(300..400).contains(&status) && status != 401 && status != 429);
        let parsed: serde_json::Value =
            serde_json::from_slice(r.body()).expect("success parsed the body");
        assert_eq!(parsed["ok"], true);
        assert_eq!(parsed["data"], serde_json::Value::Object(map));
    }
}

/// A login fed arbitrary replies always ends in `Done`, within a bounded
/// number of requests, sending the token only on approve and profile.
pub(crate) fn login_flow(data: &[u8]) {
    let config = Config::builder()
        .token("at_fuzz-token-0123456789")
        .base_url("https://api.example/api/v1")
        .pow_threads(1)
        .pow_timeout(Duration::from_millis(5))
        .env_lookup(|_| None)
        .build()
        .expect("valid config");
    let mut now = Instant::now();
    let Ok(mut login) = Login::new(&config, "lr_fuzz", now) else {
        return;
    };
    let mut replies = data.split(|&b| b == 0xff);
    for _ in 0..200 {
        match login.poll_output() {
            Output::Send(t) => {
                let path = t.request.uri().path();
                let authed = path.ends_with("/approve") || path.ends_with("/profile");
                assert_eq!(t.request.headers().contains_key("x-agent-token"), authed);
                now += Duration::from_millis(1);
                match replies.next() {
                    Some([0xfe, kind, ..]) => {
                        let kind = match kind % 4 {
                            0 => TransportErrorKind::Connect,
                            1 => TransportErrorKind::Timeout,
                            2 => TransportErrorKind::ConnectionLost,
                            _ => TransportErrorKind::BodyTooLarge,
                        };
                        login.handle_transport_error(TransportError::new(kind, "fuzz"), now);
                    }
                    Some(bytes) => login.handle_response(response(bytes), now),
                    None => login.handle_transport_error(
                        TransportError::new(TransportErrorKind::Connect, "fuzz"),
                        now,
                    ),
                }
            }
            Output::Solve(task) => {
                let outcome = task.run();
                login.handle_solution(outcome, now);
            }
            Output::Wait(until) => {
                now = until;
                login.handle_timeout(now);
            }
            Output::Done(_) => return,
        }
    }
    panic!("the login did not finish in 200 steps");
}

fn reference(scheme: Scheme, challenge: &[u8], nonce: &[u8], difficulty: i64) -> bool {
    if difficulty <= 0 {
        return true;
    }
    if difficulty > 256 {
        return false;
    }
    let mut h = Sha256::new();
    if scheme == Scheme::V1 {
        h.update(b"lime:pow:v1\0");
    }
    h.update(challenge);
    if scheme == Scheme::V1 {
        h.update([0]);
    }
    h.update(nonce);
    let digest = h.finalize();
    let zeros = (0..256)
        .take_while(|&i| digest[i / 8] & (0x80 >> (i % 8)) == 0)
        .count();
    zeros as i64 >= difficulty
}

/// `verify` equals the reference rule; the midstate search's first hit in a
/// window equals whole-message hashing's.
pub(crate) fn pow_verify(data: &[u8]) {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let scheme = if head & 1 == 0 {
        Scheme::Legacy
    } else {
        Scheme::V1
    };
    let difficulty = i64::from(head >> 1) - 8; // -8..=119
    let split = rest.first().map_or(0, |&b| usize::from(b)).min(rest.len());
    let (challenge, nonce) = rest.split_at(split);
    assert_eq!(
        verify_bytes(scheme, challenge, nonce, difficulty),
        reference(scheme, challenge, nonce, difficulty)
    );
    let d = difficulty.clamp(0, 5);
    let start = u64::from_le_bytes(
        nonce
            .iter()
            .copied()
            .chain([0; 8])
            .take(8)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or([0; 8]),
    );
    let start = start.min(u64::MAX - 100);
    let search = Search::new(scheme, challenge, d).expect("d <= 256");
    let expected =
        (start..start + 64).find(|n| reference(scheme, challenge, n.to_string().as_bytes(), d));
    let found = match search.scan(start, 64) {
        ScanOutcome::Found { nonce, .. } => Some(nonce.value()),
        _ => None,
    };
    assert_eq!(found, expected);
}

/// The emulator's routing accepts any method and path without panicking and
/// only names a request id for the per-request routes.
pub(crate) fn emulator_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (method, path) = text.split_once(' ').unwrap_or(("GET", &text));
    let Ok(method) = http::Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let (route, id) = lime_emulator::Route::of(&method, path);
    if let Some(id) = id {
        assert!(matches!(
            route,
            lime_emulator::Route::ReadRequest | lime_emulator::Route::Approve
        ));
        assert!(!id.contains('/'));
    }
}

/// Events written by the emulator's SSE writer come back from a site's
/// event stream once each, however the stream is cut; arbitrary bytes never
/// panic it, and what it keeps stays within its limits.
pub(crate) fn sse_roundtrip(data: &[u8]) {
    use lime_core::site::{EventStream, SiteEvent, StreamOutput};
    use lime_emulator::sse::encode;
    let config = lime_core::Config::builder()
        .site_token("st_fuzz")
        .base_url("http://127.0.0.1:1/api/v1")
        .build_site()
        .unwrap();
    let now = std::time::Instant::now();
    let open = || {
        let mut stream = EventStream::new(&config, now);
        let _ = stream.poll_output(now);
        stream.handle_open(now);
        stream
    };
    let drain = |stream: &mut EventStream| {
        let mut got = Vec::new();
        while let StreamOutput::Event(event) = stream.poll_output(now) {
            got.push(event);
        }
        got
    };
    let mut stream = open();
    stream.handle_chunk(data, now);
    let _ = drain(&mut stream);
    assert!(stream.bytes_scanned() <= data.len() as u64);

    // Each data starts with `x`: never a keepalive, kept as sent.
    let text = String::from_utf8_lossy(data).replace('\r', "");
    let sent: Vec<String> = text
        .split('\u{1}')
        .take(8)
        .map(|d| format!("x{d}"))
        .collect();
    let wire: String = sent
        .iter()
        .enumerate()
        .map(|(i, d)| encode(Some(&i.to_string()), d))
        .collect();
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(wire.len());
    let mut stream = open();
    stream.handle_chunk(&wire.as_bytes()[..cut], now);
    let mut got = drain(&mut stream);
    stream.handle_chunk(&wire.as_bytes()[cut..], now);
    got.extend(drain(&mut stream));
    assert_eq!(got.len(), sent.len());
    for (event, d) in got.iter().zip(&sent) {
        let SiteEvent::Other { data, .. } = event else {
            panic!("{event:?}")
        };
        assert_eq!(data, d);
    }
}

/// The mint's answer never panics the parser; a token it accepts is a
/// three-part base64url JWT with a positive lifetime from a 200 that said
/// `no-store`, and it never shows itself in `Debug` or `Display`. The
/// first byte picks the status and whether `Cache-Control: no-store` is sent.
pub(crate) fn mcp_token_response(data: &[u8]) {
    let mut r = response(data);
    if data.first().is_some_and(|b| b & 1 == 0) {
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
    let parsed =
        lime_core::mcp::parse_token_response(&r, "mcp.example.com", Instant::now(), 1 << 20);
    if let Ok(token) = parsed {
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers().contains_key(http::header::CACHE_CONTROL));
        let jwt = token.expose_secret();
        assert_eq!(jwt.split('.').count(), 3);
        assert!(jwt.split('.').all(|p| !p.is_empty()));
        assert!(token.expires_in() > Duration::ZERO);
        assert!(!format!("{token:?}{token}").contains(jwt));
    }
}

/// The MCP target policy never panics, and whatever it accepts is a lower
/// case RFC 1123 host name that is not an IP address, with a URL that
/// names it.
pub(crate) fn mcp_target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for allow_http in [false, true] {
        if let Ok(target) = lime_core::mcp::McpTarget::parse(text, allow_http) {
            let domain = target.domain();
            assert!(domain.parse::<std::net::IpAddr>().is_err());
            assert!(!domain.is_empty() && domain.len() <= 253);
            assert!(domain.split('.').all(|l| {
                (1..=63).contains(&l.len())
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }));
            assert!(target.url().to_ascii_lowercase().contains(domain));
            if !allow_http {
                assert!(!target.url().to_ascii_lowercase().starts_with("http://"));
            }
        }
    }
}

/// Passport verification never panics on any token; with a signature
/// check that accepts everything, whatever passes keeps every claim rule:
/// RS256, the audience, the issuer, an agent, the bound request and a
/// lifetime within 120 s that covers `now`.
pub(crate) fn passport(data: &[u8]) {
    struct AcceptAll;
    impl lime_core::site::SignatureCheck for AcceptAll {
        fn rs256(&self, _: &[u8], _: &[u8], _: &[u8], _: &[u8]) -> bool {
            true
        }
    }
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let keys = lime_core::site::KeySet::from_jwks(
        br#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}"#,
    )
    .expect("a key set");
    let expected = lime_core::site::Expected::new("https://lime.example", "lr_1");
    let now = 1_800_000_000;
    if let Ok(passport) = lime_core::site::verify_passport(token, &keys, &expected, now, &AcceptAll)
    {
        assert_eq!(passport.request_id, "lr_1");
        assert!(!passport.agent_id.is_empty());
        assert!(passport.expires_at > now);
        assert!(passport.expires_at - passport.issued_at <= 120);
    }
}
