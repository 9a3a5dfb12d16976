//! The site's flows on a scripted server: what a create retries and what it
//! never does twice, the public read, the key fetch, binding, the event
//! stream's answers to a broken service, and the rules of one wait.
#![forbid(unsafe_code)]
#![allow(clippy::disallowed_methods)] // a test's own clock start

mod scenario;

use std::time::{Duration, Instant};

use lime_core::site::{
    CreateBinding, CreateRequest, Decided, EventStream, ExchangeBinding, FetchKeys, KeyCache,
    KeySet, McpTokenRefused, Outcome, PassportRefused, ReadRequest, RequestState, SiteEvent,
    StreamOutput, VerifiedPassport, Wait,
};
use lime_core::{Error, RequestStatus, drive::TransportErrorKind};
use scenario::*;
use serde_json::json;

fn created(id: &str) -> String {
    ok(json!({"login_request_id": id, "status": "PENDING", "expires_at": "2030-01-01T00:00:00Z"}))
}

#[test]
fn a_create_sends_the_site_token_and_reads_the_new_request() {
    let run = scenario()
        .reply(201, &created("lr_new1"))
        .site(CreateRequest::new);
    assert_eq!(run.calls(), ["POST /modules/agent-login/requests"]);
    let sent = &run.requests[0];
    assert_eq!(sent.headers()["x-site-token"], SITE_TOKEN);
    assert!(sent.headers().get("x-agent-token").is_none());
    let request = run.result.unwrap();
    assert_eq!(
        (request.request_id.as_str(), request.status),
        ("lr_new1", RequestStatus::Pending)
    );
    // An id the protocol would refuse is the server's fault, named.
    let bad = scenario()
        .reply(201, &created("../x"))
        .site(CreateRequest::new);
    assert!(
        matches!(bad.result, Err(Error::InvalidResponse { .. })),
        "{:?}",
        bad.result
    );
}

#[test]
fn a_create_is_sent_again_only_when_it_was_not_processed() {
    // 503 and a refused connect: nothing was created, so it is retried.
    let run = scenario()
        .reply(503, &api_error("UNAVAILABLE", "later"))
        .transport(TransportErrorKind::Connect)
        .reply(201, &created("lr_after"))
        .site(CreateRequest::new);
    assert_eq!(run.result.unwrap().request_id, "lr_after");
    assert_eq!(run.requests.len(), 3);
    // 500, or a connection lost after sending: maybe created, never resent.
    let run = scenario()
        .reply(500, &api_error("INTERNAL", "oops"))
        .site(CreateRequest::new);
    assert_eq!(
        (run.requests.len(), run.result.unwrap_err().http_status()),
        (1, Some(500))
    );
    let run = scenario()
        .transport(TransportErrorKind::ConnectionLost)
        .site(CreateRequest::new);
    assert_eq!(run.requests.len(), 1);
    assert!(run.result.unwrap_err().is_transport());
}

#[test]
fn the_public_read_sends_no_token_and_names_the_request() {
    let body = ok(
        json!({"status": "APPROVED", "approved_agent_id": "agent_x", "expires_at": "2030-01-01T00:00:00Z"}),
    );
    let run = scenario()
        .reply(200, &body)
        .site(|c, now| ReadRequest::new(c, "lr_read1", now).unwrap());
    let state = run.result.unwrap();
    assert_eq!(
        state.request_id, "lr_read1",
        "from the path when the body omits it"
    );
    assert_eq!(state.approved_agent_id.as_deref(), Some("agent_x"));
    assert!(state.expires_at.is_some());
    assert!(run.requests[0].headers().get("x-site-token").is_none());
    let config = site_config();
    assert!(ReadRequest::new(&config, "no/slashes", Instant::now()).is_err());
}

#[test]
fn the_key_fetch_reads_a_jwks_and_refuses_anything_else() {
    let jwks = r#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}"#;
    let run = scenario().reply(200, jwks).site(FetchKeys::new);
    assert!(run.result.unwrap().contains("k1"));
    let run = scenario().reply(404, "<html>").site(FetchKeys::new);
    assert!(run.result.is_err());
    let run = scenario().reply(200, "[]").site(FetchKeys::new);
    assert!(matches!(run.result, Err(Error::InvalidResponse { .. })));
}

#[test]
fn a_key_cache_with_a_failed_fetch_says_so_until_the_interval_passed() {
    let now = Instant::now();
    let cache = KeyCache::default();
    assert!(cache.keys_for("k1", now).unwrap().is_none(), "fetch first");
    let failed = cache.fetched(Err(Error::internal("down")), now);
    assert!(failed.is_err());
    assert!(cache.keys_for("k1", now + Duration::from_secs(1)).is_err());
    let keys =
        KeySet::from_jwks(br#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}"#).unwrap();
    let later = now + Duration::from_secs(31);
    assert!(cache.keys_for("k1", later).unwrap().is_none());
    cache.fetched(Ok(keys), later).unwrap();
    assert!(cache.keys_for("k1", later).unwrap().is_some());
}

#[test]
fn binding_checks_the_redirect_before_sending_and_never_shows_the_code() {
    let config = site_config();
    let now = Instant::now();
    for bad in [
        "http://site.example/cb",
        "https://user@site.example/cb",
        "https://site.example/cb#frag",
        "not a url",
        "ftp://site.example/cb",
    ] {
        let refused = CreateBinding::new(&config, bad, now).unwrap_err();
        assert!(
            matches!(
                refused,
                Error::InvalidInput {
                    argument: "redirect_uri",
                    ..
                }
            ),
            "{bad}"
        );
    }
    assert!(CreateBinding::new(&config, "http://127.0.0.1:8080/cb", now).is_ok());
    let body = ok(
        json!({"binding_id": "bd_1", "connect_url": "https://lime.example/connect/bd_1",
                         "status": "PENDING", "expires_at": "2030-01-01T00:00:00Z"}),
    );
    let run = scenario()
        .reply(201, &body)
        .site(|c, now| CreateBinding::new(c, "https://site.example/cb", now).unwrap());
    let binding = run.result.unwrap();
    assert_eq!(
        (binding.binding_id.as_str(), binding.status.as_str()),
        ("bd_1", "PENDING")
    );
    assert!(String::from_utf8_lossy(run.requests[0].body()).contains("site.example/cb"));

    assert!(ExchangeBinding::new(&config, "  ", now).is_err());
    assert!(ExchangeBinding::new(&config, &"x".repeat(1025), now).is_err());
    let exchange = ExchangeBinding::new(&config, "bc_secret_code", now).unwrap();
    assert!(!format!("{exchange:?}").contains("bc_secret_code"));
    let run = scenario()
        .reply(200, &ok(json!({"passport": "a.b.c"})))
        .site(|c, now| ExchangeBinding::new(c, "bc_secret_code", now).unwrap());
    assert_eq!(run.result.unwrap().as_str(), "a.b.c");
    let spent = scenario()
        .reply(400, &api_error("BINDING_CODE_INVALID", "spent"))
        .site(|c, now| ExchangeBinding::new(c, "bc_secret_code", now).unwrap());
    assert_eq!(
        spent.result.unwrap_err().code(),
        Some("BINDING_CODE_INVALID")
    );
}

fn open_stream() -> (EventStream, Instant) {
    let now = Instant::now();
    let mut stream = EventStream::new(&site_config(), now).read_timeout(Duration::from_secs(5));
    let StreamOutput::Connect(_) = stream.poll_output(now) else {
        panic!("connects first")
    };
    (stream, now)
}

fn events(stream: &mut EventStream, now: Instant) -> Vec<SiteEvent> {
    let mut out = Vec::new();
    while let StreamOutput::Event(event) = stream.poll_output(now) {
        out.push(event);
    }
    out
}

#[test]
fn every_kind_of_frame_is_typed_and_keepalives_only_keep_alive() {
    let (mut stream, now) = open_stream();
    stream.handle_chunk(b"data: {}\n\n", now);
    assert!(events(&mut stream, now).is_empty(), "not open yet: ignored");
    stream.handle_open(now);
    stream.handle_open(now);
    let frames = concat!(
        "data: {\"type\":\"keepalive\"}\n\n",
        "id: a\ndata: {\"type\":\"approved\",\"login_request_id\":\"lr_1\"}\n\n",
        "id: b\ndata: {\"type\":\"expired\"}\n\n",
        "data: {\"type\":\"error\",\"code\":\"X\",\"message\":\"m\"}\n\n",
        "id: c\ndata: not json\n\n",
        "id: c\ndata: {\"type\":\"expired\",\"login_request_id\":\"lr_2\"}\n\n",
        "id: d\ndata: {\"type\":\"new\"}\n\n",
    );
    stream.handle_chunk(frames.as_bytes(), now);
    let got = events(&mut stream, now);
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(
        matches!(&got[0], SiteEvent::Other { event_id: Some(id), .. } if id == "a"),
        "an approval without a passport"
    );
    assert!(
        matches!(&got[1], SiteEvent::Other { .. }),
        "an expiry without a request"
    );
    assert!(matches!(&got[2], SiteEvent::Error { code, .. } if code == "X"));
    assert!(matches!(&got[3], SiteEvent::Other { data, .. } if data == "not json"));
    assert!(
        matches!(&got[4], SiteEvent::Other { .. }),
        "an id equal to the cursor is not delivered twice; `d` is new"
    );
    assert_eq!(got[2].request_id(), None);
    assert_eq!(stream.last_event_id(), Some("d"));
    assert!(stream.bytes_scanned() > 0);
    assert!(format!("{stream:?}").contains("last_event_id"));
}

#[test]
fn a_broken_service_is_retried_and_a_wrong_one_stops_the_stream() {
    let refuse = |status: u16, body: &str| {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    let (mut stream, now) = open_stream();
    stream.handle_refused(refuse(502, "<html>bad gateway</html>"), now);
    let StreamOutput::Wait(until) = stream.poll_output(now) else {
        panic!("502 is retried")
    };
    stream.handle_timeout(now);
    assert!(
        matches!(stream.poll_output(now), StreamOutput::Wait(_)),
        "not before its time"
    );
    stream.handle_timeout(until);
    let StreamOutput::Connect(_) = stream.poll_output(until) else {
        panic!("connects again")
    };
    // Polled again before answering (a dropped connect): connects again.
    assert!(matches!(
        stream.poll_output(until),
        StreamOutput::Connect(_)
    ));
    stream.handle_refused(refuse(404, &api_error("NOT_FOUND", "no route")), until);
    let StreamOutput::Stopped(error) = stream.poll_output(until) else {
        panic!("404 stops")
    };
    assert_eq!(error.http_status(), Some(404));
    stream.handle_refused(refuse(200, "{}"), until);
    assert!(
        matches!(stream.poll_output(until), StreamOutput::Stopped(_)),
        "stays stopped"
    );

    let (mut stream, now) = open_stream();
    stream.handle_refused(refuse(200, r#"{"ok":true,"data":{}}"#), now);
    assert!(
        matches!(stream.poll_output(now), StreamOutput::Stopped(_)),
        "a JSON answer is no stream"
    );

    let (mut stream, now) = open_stream();
    let tls = lime_core::drive::TransportError::new(TransportErrorKind::Tls, "unknown issuer");
    stream.handle_disconnect(Some(tls), now);
    assert!(matches!(
        stream.poll_output(now),
        StreamOutput::Stopped(Error::Transport(_))
    ));
}

#[test]
fn a_wait_is_decided_by_its_own_request_only() {
    let pending = RequestState::new("lr_w", RequestStatus::Pending);
    let wait = Wait::new(pending, Duration::from_secs(9)).unwrap();
    assert_eq!(wait.request_id(), "lr_w");
    let (mut stream, now) = open_stream();
    stream.handle_open(now);
    stream.handle_chunk(
        concat!(
            "id: 1\ndata: {\"type\":\"approved\",\"login_request_id\":\"lr_other\",\"agent_passport_jwt\":\"x.y.z\"}\n\n",
            "id: 2\ndata: {\"type\":\"expired\",\"login_request_id\":\"lr_w\"}\n\n",
            "id: 3\ndata: {\"type\":\"approved\",\"login_request_id\":\"lr_w\",\"agent_passport_jwt\":\"a.b.c\"}\n\n",
        )
        .as_bytes(),
        now,
    );
    let got = events(&mut stream, now);
    assert!(wait.on_event(got[0].clone()).is_none());
    assert!(matches!(
        wait.on_event(got[1].clone()),
        Some(Decided::Expired)
    ));
    assert!(
        matches!(wait.on_event(got[2].clone()), Some(Decided::Passport(p)) if p.as_str() == "a.b.c")
    );
    let refused = wait.verified(Err(Error::PassportRefused(PassportRefused::Expired)));
    assert!(
        refused.is_err(),
        "a fresh approval's expired passport is refused"
    );

    let mut approved = RequestState::new("lr_w", RequestStatus::Delivered);
    approved.approved_agent_id = Some("agent_a".into());
    let replay = Wait::new(approved.clone(), Duration::from_secs(60)).unwrap();
    assert_eq!(replay.listen_for(), lime_core::site::REPLAY_GRACE);
    let late = replay
        .verified(Err(Error::PassportRefused(PassportRefused::Expired)))
        .unwrap();
    assert_eq!(
        late,
        Outcome::ApprovedWithoutPassport {
            agent_id: Some("agent_a".into())
        }
    );
    let replay = Wait::new(approved, Duration::from_secs(60)).unwrap();
    let fine = verified();
    assert_eq!(
        replay.verified(Ok(fine.clone())).unwrap(),
        Outcome::Approved(fine)
    );
}

fn verified() -> VerifiedPassport {
    // Only the emulator signs real ones; a wait just hands this on.
    let keys = KeySet::default();
    let refused = lime_core::site::verify_passport(
        "a.b.c",
        &keys,
        &lime_core::site::Expected::new("https://x", "lr_w"),
        0,
        &NoCheck,
    );
    assert_eq!(refused, Err(PassportRefused::Malformed));
    passport_for_tests()
}

struct NoCheck;

impl lime_core::site::SignatureCheck for NoCheck {
    fn rs256(&self, _: &[u8], _: &[u8], _: &[u8], _: &[u8]) -> bool {
        true
    }
}

/// A passport the RS256 check always accepts, to reach the claim rules.
fn passport_for_tests() -> VerifiedPassport {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"RS256","kid":"k1"}"#);
    let claims = b64.encode(
        json!({"aud":"lime-site-login","iss":"https://x","sub":"agent_a","request_id":"lr_w","iat":100,"exp":200})
            .to_string(),
    );
    let token = format!("{header}.{claims}.AA");
    let keys =
        KeySet::from_jwks(br#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}"#).unwrap();
    let expected = lime_core::site::Expected::new("https://x", "lr_w");
    lime_core::site::verify_passport(&token, &keys, &expected, 150, &NoCheck).unwrap()
}

#[test]
fn refusals_are_errors_with_codes_and_readable_messages() {
    let passport = Error::PassportRefused(PassportRefused::Request);
    assert_eq!(passport.code(), Some("PASSPORT_REFUSED"));
    assert!(
        passport.to_string().contains("another login request"),
        "{passport}"
    );
    let token = Error::McpTokenRefused(McpTokenRefused::Domain);
    assert_eq!(token.code(), Some("MCP_TOKEN_REFUSED"));
    assert!(token.to_string().contains("another MCP server"), "{token}");
    assert!(!passport.is_retryable() && !token.is_retryable());
}

#[test]
fn a_key_set_shows_its_key_ids_and_a_token_names_its_key() {
    let keys =
        KeySet::from_jwks(br#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}"#).unwrap();
    assert_eq!(format!("{keys:?}"), r#"["k1"]"#);
    assert_eq!(
        lime_core::site::key_id("eyJraWQiOiJrMSJ9.e30.AA").as_deref(),
        Some("k1")
    );
    assert_eq!(lime_core::site::key_id("e30.e30.AA"), None, "no kid");
    let now = Instant::now();
    let mut resumed = EventStream::new(&site_config(), now).resume_from("7");
    assert_eq!(resumed.last_event_id(), Some("7"));
    let StreamOutput::Connect(transmit) = resumed.poll_output(now) else {
        panic!("connects")
    };
    assert_eq!(transmit.request.headers()["last-event-id"], "7");
    assert_eq!(transmit.request.headers()["accept"], "text/event-stream");
}

#[test]
fn the_public_read_keeps_the_id_the_server_names() {
    let body = ok(json!({"request_id": "lr_named", "status": "EXPIRED"}));
    let run = scenario()
        .reply(200, &body)
        .site(|c, now| ReadRequest::new(c, "lr_asked", now).unwrap());
    let state = run.result.unwrap();
    assert_eq!(
        (state.request_id.as_str(), state.status.clone()),
        ("lr_named", RequestStatus::Expired)
    );
    assert_eq!(state.expires_at, None);
    assert_eq!(
        Wait::new(state, Duration::from_secs(1)).unwrap_err(),
        Outcome::Expired
    );
}
