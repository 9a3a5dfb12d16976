//! The site's side over loopback against the emulator: create, an agent
//! logs in, the event carries a passport that verifies; a cut stream
//! resumes without losing or repeating an event; a rotated key is
//! fetched; `wait` answers at once for unknown and expired requests.
#![forbid(unsafe_code)]

use std::time::Duration;

use futures::StreamExt;
use lime_emulator::Emulator;
use lime_tokio::site::{LimeSite, Outcome, PassportRefused, SiteEvent};
use lime_tokio::{Error, LimeAgent};

async fn emulator() -> Emulator {
    Emulator::builder().difficulty(4).start().await.unwrap()
}

fn site(emu: &Emulator) -> LimeSite {
    LimeSite::builder()
        .token(emu.site_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap()
}

fn agent(emu: &Emulator) -> LimeAgent {
    LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap()
}

#[tokio::test]
async fn create_then_an_agent_logs_in_and_the_site_gets_a_verified_passport() {
    let emu = emulator().await;
    let site = site(&emu);
    let request = site.create_login_request().await.unwrap();
    assert_eq!(request.status, lime_tokio::RequestStatus::Pending);
    let waiting = {
        let (site, id) = (site.clone(), request.request_id.clone());
        tokio::spawn(async move { site.wait(&id, Duration::from_secs(20)).await })
    };
    agent(&emu).login(&request.request_id).await.unwrap();
    let Outcome::Approved(passport) = waiting.await.unwrap().unwrap() else {
        panic!("not approved")
    };
    assert_eq!(passport.agent_id, emu.agent_id());
    assert_eq!(passport.request_id, request.request_id);
    assert!(passport.expires_at - passport.issued_at <= 120);
}

#[tokio::test]
async fn a_cut_stream_reconnects_and_delivers_every_event_once() {
    let emu = emulator().await;
    let site = site(&emu);
    let agent = agent(&emu);
    let mut events = site.events();
    let mut ids = Vec::new();
    for round in 0..3 {
        let request = site.create_login_request().await.unwrap();
        agent.login(&request.request_id).await.unwrap();
        if round == 1 {
            // Approved while the stream is down: replayed on reconnect.
            let cut = emu.cut_event_streams();
            assert!(cut <= 1);
        }
        ids.push(request.request_id);
    }
    let mut seen = Vec::new();
    while seen.len() < ids.len() {
        let event = tokio::time::timeout(Duration::from_secs(20), events.next())
            .await
            .expect("an event within 20 s")
            .unwrap();
        if let SiteEvent::Approved {
            request_id,
            passport,
            ..
        } = event
        {
            site.verify_passport(passport.as_str(), &request_id)
                .await
                .unwrap();
            seen.push(request_id);
        }
    }
    assert_eq!(seen, ids, "each once, in order");
    // Cut again: nothing old comes back.
    emu.cut_event_streams();
    let late = site.create_login_request().await.unwrap();
    agent.login(&late.request_id).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.request_id(), Some(late.request_id.as_str()));
    let cursor = events.last_event_id().unwrap().to_owned();

    // A restarted replica resumes from the cursor it saved, as a Stream.
    let again = site.create_login_request().await.unwrap();
    agent.login(&again.request_id).await.unwrap();
    let mut resumed = site.events_after(&cursor);
    let first = tokio::time::timeout(Duration::from_secs(20), StreamExt::next(&mut resumed))
        .await
        .unwrap();
    assert_eq!(
        first.unwrap().unwrap().request_id(),
        Some(again.request_id.as_str())
    );
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_and_a_passport_for_another_request_refused() {
    let emu = emulator().await;
    let site = site(&emu);
    let agent = agent(&emu);
    let mut events = site.events();
    let mut passports = Vec::new();
    for rotate in [false, true] {
        if rotate {
            emu.rotate_signing_key().unwrap();
        }
        let request = site.create_login_request().await.unwrap();
        agent.login(&request.request_id).await.unwrap();
        loop {
            if let SiteEvent::Approved {
                request_id,
                passport,
                ..
            } = events.next().await.unwrap()
            {
                // The first fetches the key set; the second names a new kid,
                // which fetches it again.
                let verified = site.verify_passport(passport.as_str(), &request_id).await;
                assert_eq!(verified.unwrap().request_id, request_id);
                passports.push((request_id, passport));
                break;
            }
        }
    }
    let (first_id, _) = &passports[0];
    let (_, second) = &passports[1];
    let refused = site
        .verify_passport(second.as_str(), first_id)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::PassportRefused(PassportRefused::Request)),
        "{refused:?}"
    );
    assert_eq!(refused.code(), Some("PASSPORT_REFUSED"));
    let forged = format!("{}x", &second.as_str()[..second.as_str().len() - 1]);
    assert!(
        site.verify_passport(&forged, &passports[1].0)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn wait_answers_at_once_for_unknown_and_expired_requests() {
    let clock = lime_emulator::ManualClock::starting_now();
    let emu = Emulator::builder()
        .clock(clock)
        .ttl(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let site = site(&emu);
    // Each wait asks for an hour; none may use it.
    let hour = Duration::from_secs(3600);
    let at_once = |wait| tokio::time::timeout(Duration::from_secs(60), wait);
    let unknown = at_once(site.wait("lr_doesnotexist", hour))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(unknown.http_status(), Some(404), "{unknown:?}");
    let request = site.create_login_request().await.unwrap();
    emu.advance_clock(Duration::from_secs(61));
    let expired = at_once(site.wait(&request.request_id, hour))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expired, Outcome::Expired);
    let bad = at_once(site.wait("not an id!", hour))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(bad, Error::InvalidInput { .. }), "{bad:?}");
}

#[tokio::test]
async fn a_refused_site_token_stops_the_stream_and_create() {
    let emu = emulator().await;
    let site = LimeSite::builder()
        .token("st_wrong-token-value")
        .base_url(emu.base_url())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap();
    let create = site.create_login_request().await.unwrap_err();
    assert!(create.is_authentication(), "{create:?}");
    let mut events = site.events();
    let stopped = events.next().await.unwrap_err();
    assert!(stopped.is_authentication(), "{stopped:?}");
    assert!(!format!("{site:?} {stopped:?}").contains("wrong-token-value"));
}

#[tokio::test]
async fn a_binding_round_trip_names_the_chosen_agent_once() {
    let emu = emulator().await;
    let site = site(&emu);
    let refused = site
        .create_binding_request("http://site.example/callback")
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::InvalidInput { .. }), "{refused:?}");
    let binding = site
        .create_binding_request("https://site.example/callback")
        .await
        .unwrap();
    assert_eq!(binding.status, "PENDING");
    assert!(binding.connect_url.ends_with(&binding.binding_id));
    // The user picks an agent on the hosted page; the browser comes back
    // with a one-time code.
    let code = emu
        .complete_binding(&binding.binding_id, emu.agent_id())
        .unwrap();
    let verified = site.exchange_binding_code(&code).await.unwrap();
    assert_eq!(verified.agent_id, emu.agent_id());
    assert_eq!(verified.binding_id, binding.binding_id);
    assert_eq!(verified.expires_at - verified.issued_at, 60);
    let spent = site.exchange_binding_code(&code).await.unwrap_err();
    assert_eq!(spent.code(), Some("BINDING_CODE_INVALID"), "{spent:?}");
    assert!(
        emu.complete_binding(&binding.binding_id, "agent_other")
            .is_none()
    );
}
