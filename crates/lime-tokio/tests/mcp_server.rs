//! An MCP server's side against the emulator on loopback: the verifier
//! accepts what the emulator mints for its domain and refuses every other
//! token with a typed reason; the layer answers 401 with the RFC 6750
//! challenge and hands the verified agent to the service.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll};

use base64::Engine as _;
use lime_core::site::McpTokenRefused;
use lime_emulator::{Emulator, ManualClock};
use lime_tokio::mcp_server::{McpTokenVerifier, VerifiedMcpToken};
use lime_tokio::{Error, LimeAgent};

const DOMAIN: &str = "tools.lime.example";

fn verifier(emu: &Emulator) -> McpTokenVerifier {
    let base = emu.base_url();
    McpTokenVerifier::builder()
        .expected_domain(format!("https://{DOMAIN}/mcp"))
        .configure(|c| c.base_url(base).env_lookup(|_| None))
        .build()
        .unwrap()
}

async fn token(emu: &Emulator, domain: &str) -> String {
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap();
    let token = agent.mcp_access_token(domain).await.unwrap();
    token.expose_secret().to_owned()
}

fn refused(result: Result<VerifiedMcpToken, Error>) -> McpTokenRefused {
    match result {
        Err(Error::McpTokenRefused(why)) => why,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_verifier_accepts_its_domain_and_refuses_every_other_token() {
    let emu = Emulator::builder().start().await.unwrap();
    let verifier = verifier(&emu);
    assert_eq!(verifier.domain(), DOMAIN);
    // The key set fetched at start-up serves the first token: one fetch.
    verifier.warm_up().await.unwrap();
    let good = token(&emu, DOMAIN).await;
    let verified = verifier.verify(&good).await.unwrap();
    assert_eq!(emu.counters().calls(lime_emulator::Route::Jwks), 1);
    assert_eq!(
        (verified.agent_id.as_str(), verified.domain.as_str()),
        (emu.agent_id(), DOMAIN)
    );

    let other = token(&emu, "other.lime.example").await;
    assert_eq!(
        refused(verifier.verify(&other).await),
        McpTokenRefused::Domain
    );

    // alg "none" over the same claims.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = good.split('.').nth(1).unwrap();
    let header = b64.encode(br#"{"alg":"none","kid":"x"}"#);
    let none = format!("{header}.{claims}.");
    assert!(matches!(
        refused(verifier.verify(&none).await),
        McpTokenRefused::Algorithm | McpTokenRefused::Malformed
    ));

    // Another emulator (same key in this process, another origin): its
    // issuer is not this verifier's.
    let elsewhere = Emulator::builder().start().await.unwrap();
    let foreign = token(&elsewhere, DOMAIN).await;
    assert_eq!(
        refused(verifier.verify(&foreign).await),
        McpTokenRefused::Issuer
    );

    // A key the set no longer holds.
    let before = token(&elsewhere, DOMAIN).await;
    elsewhere.rotate_signing_key().unwrap();
    let rotated = self::verifier(&elsewhere);
    assert_eq!(
        refused(rotated.verify(&before).await),
        McpTokenRefused::UnknownKey
    );
    assert!(
        rotated
            .verify(&token(&elsewhere, DOMAIN).await)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_login_passport_is_no_mcp_token() {
    use lime_tokio::site::{LimeSite, SiteEvent};
    let emu = Emulator::builder().difficulty(2).start().await.unwrap();
    let site = LimeSite::builder()
        .token(emu.site_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap();
    let agent = LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap();
    let mut events = site.events();
    let request = site.create_login_request().await.unwrap();
    agent.login(&request.request_id).await.unwrap();
    let passport = loop {
        if let SiteEvent::Approved { passport, .. } = events.next().await.unwrap() {
            break passport;
        }
    };
    let verifier = verifier(&emu);
    assert_eq!(
        refused(verifier.verify(passport.as_str()).await),
        McpTokenRefused::Audience
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    let emu = Emulator::builder()
        .clock(ManualClock::new(past))
        .start()
        .await
        .unwrap();
    let verifier = verifier(&emu);
    let expired = token(&emu, DOMAIN).await;
    assert_eq!(
        refused(verifier.verify(&expired).await),
        McpTokenRefused::Expired
    );
    assert_eq!(
        refused(verifier.verify("not.a.token").await),
        McpTokenRefused::Malformed
    );
}

/// The service behind the layer: answers with the agent it was handed.
#[derive(Clone)]
struct Echo;

impl tower_service::Service<http::Request<()>> for Echo {
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<()>) -> Self::Future {
        let agent = request
            .extensions()
            .get::<VerifiedMcpToken>()
            .map(|t| t.agent_id.clone());
        std::future::ready(Ok(http::Response::new(agent.unwrap_or_default())))
    }
}

#[tokio::test]
async fn the_layer_answers_401_with_the_challenge_and_passes_the_agent_on() {
    use tower_service::Service;
    let emu = Emulator::builder().start().await.unwrap();
    let mut service = tower_layer::Layer::layer(&verifier(&emu).layer(), Echo);
    let request = |auth: Option<String>| {
        let mut builder = http::Request::builder().uri("/mcp");
        if let Some(auth) = auth {
            builder = builder.header(http::header::AUTHORIZATION, auth);
        }
        builder.body(()).unwrap()
    };
    for auth in [
        None,
        Some("Bearer nonsense".to_owned()),
        Some("Basic abc".to_owned()),
    ] {
        let answer = service.call(request(auth.clone())).await.unwrap();
        assert_eq!(answer.status(), 401, "{auth:?}");
        let challenge = answer.headers()[http::header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
        assert!(answer.body().is_empty(), "the service never ran");
    }
    let good = token(&emu, DOMAIN).await;
    let answer = service
        .call(request(Some(format!("Bearer {good}"))))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.body(), emu.agent_id());
}
