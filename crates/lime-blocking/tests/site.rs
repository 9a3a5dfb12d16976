//! The blocking site over HTTPS on loopback against the emulator: create,
//! an agent logs in, `wait` returns the verified passport; a cut stream
//! resumes without losing or repeating an event; a refused site token
//! ends the stream with its error.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use lime_blocking::LimeAgent;
use lime_blocking::site::{LimeSite, Outcome, SiteEvent};
use lime_emulator::{BlockingEmulator, Emulator, TlsSource};

fn emulator() -> BlockingEmulator {
    Emulator::builder()
        .difficulty(4)
        .tls(TlsSource::Generated)
        .start_blocking()
        .unwrap()
}

fn site(emu: &BlockingEmulator, token: &str) -> LimeSite {
    LimeSite::builder()
        .token(token)
        .base_url(emu.base_url())
        .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap()
}

fn agent(emu: &BlockingEmulator) -> LimeAgent {
    LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
        .configure(|c| c.env_lookup(|_| None))
        .build()
        .unwrap()
}

#[test]
fn create_then_an_agent_logs_in_and_wait_returns_the_verified_passport() {
    let emu = emulator();
    let site = site(&emu, emu.site_token());
    let request = site.create_login_request().unwrap();
    let agent = agent(&emu);
    let id = request.request_id.clone();
    let login = std::thread::spawn(move || agent.login(&id));
    let outcome = site
        .wait(&request.request_id, Duration::from_secs(20))
        .unwrap();
    login.join().unwrap().unwrap();
    let Outcome::Approved(passport) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(passport.agent_id, emu.agent_id());
    assert_eq!(passport.request_id, request.request_id);
    // Approved before this second wait began: the held event is replayed.
    let again = site
        .wait(&request.request_id, Duration::from_secs(20))
        .unwrap();
    assert!(
        matches!(
            again,
            Outcome::Approved(_) | Outcome::ApprovedWithoutPassport { .. }
        ),
        "{again:?}"
    );
}

#[test]
fn a_cut_stream_reconnects_and_delivers_every_event_once() {
    let emu = emulator();
    let site = site(&emu, emu.site_token());
    let agent = agent(&emu);
    let mut ids = Vec::new();
    let mut events = site
        .events()
        .until(Instant::now() + Duration::from_secs(30));
    for round in 0..3 {
        let request = site.create_login_request().unwrap();
        agent.login(&request.request_id).unwrap();
        ids.push(request.request_id);
        if round == 0 {
            // Read the first event, then cut the connection under the reader.
            let first = events.next().unwrap().unwrap();
            assert_eq!(first.request_id(), Some(ids[0].as_str()));
            emu.cut_event_streams();
        }
    }
    let mut seen = vec![ids[0].clone()];
    for event in events.by_ref() {
        if let SiteEvent::Approved {
            request_id,
            passport,
            ..
        } = event.unwrap()
        {
            site.verify_passport(passport.as_str(), &request_id)
                .unwrap();
            seen.push(request_id);
            if seen.len() == ids.len() {
                break;
            }
        }
    }
    assert_eq!(seen, ids, "each once, in order");
    assert!(events.last_event_id().is_some());
}

#[test]
fn a_refused_site_token_ends_the_stream_with_its_error() {
    let emu = emulator();
    let site = site(&emu, "st_wrong-token-value");
    assert!(site.create_login_request().unwrap_err().is_authentication());
    let mut events = site.events();
    let stopped = events.next().unwrap().unwrap_err();
    assert!(stopped.is_authentication(), "{stopped:?}");
    assert!(events.next().is_none(), "nothing after the stream stopped");
    assert!(!format!("{site:?} {stopped:?}").contains("wrong-token-value"));
}

#[test]
fn a_binding_round_trip_names_the_chosen_agent() {
    let emu = emulator();
    let site = site(&emu, emu.site_token());
    let binding = site
        .create_binding_request("https://site.example/callback")
        .unwrap();
    let code = emu
        .complete_binding(&binding.binding_id, emu.agent_id())
        .unwrap();
    let verified = site.exchange_binding_code(&code).unwrap();
    assert_eq!(
        (verified.agent_id.as_str(), verified.binding_id.as_str()),
        (emu.agent_id(), binding.binding_id.as_str())
    );
    assert!(
        site.exchange_binding_code(&code).is_err(),
        "a code is spent once"
    );
}
