//! Secrets, for both adapters: with `tracing` captured at TRACE for whole
//! runs (login, profile, retries, reconciliation, errors), the token, the
//! challenge and the nonce never appear; `Debug`/`Display` of the public
//! types redact the token; the public read never carries it.
#![forbid(unsafe_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use lime_core::Config;
use lime_emulator::{Emulator, Fault, Route};
use lime_tests::{Adapter, Blocking, Tokio};

/// Everything every thread of this test binary logs, at TRACE.
fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || Sink(sink.clone()))
                .finish(),
        )
        .unwrap();
        log
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn no_secret_reaches_logs_debug_or_errors<A: Adapter + std::fmt::Debug>() {
    let log = captured();
    let emu = Emulator::builder().difficulty(10).start_blocking().unwrap();
    emu.inject(
        Route::ReadRequest,
        Fault::Status {
            status: 503,
            retry_after: Some(0),
        },
        1,
    );
    emu.inject(Route::Approve, Fault::ProcessThenDrop, 1);
    let challenge = "challenge-secret-4f1d9c";
    let id = emu.create_request_with(challenge, 10);
    let config = Config::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .env_lookup(|_| None)
        .build()
        .unwrap();
    let agent = A::new(config.clone());
    agent.login(&id).unwrap();
    agent.profile().unwrap();
    // An error run too: a wrong token.
    let wrong_token = "at_wrong-secret-77aa11bb22cc";
    let wrong = A::new(
        Config::builder()
            .token(wrong_token)
            .base_url(emu.base_url())
            .env_lookup(|_| None)
            .build()
            .unwrap(),
    );
    let error = wrong.login(&emu.create_request()).unwrap_err();

    let nonce = emu.accepted_nonce(&id).unwrap();
    assert!(
        nonce.len() >= 6,
        "a nonce long enough to search for: {nonce}"
    );
    let logs = String::from_utf8_lossy(&log.lock().unwrap()).to_string();
    assert!(logs.contains("retrying"), "the run was captured");
    let texts = [
        logs,
        format!("{config:?}"),
        format!("{:?}", config.token()),
        format!("{}", config.token()),
        format!("{agent:?}"),
        format!("{wrong:?}"),
        format!("{error:?} {error}"),
    ];
    for text in &texts {
        assert!(!text.contains(emu.agent_token()), "token leaked");
        assert!(!text.contains(wrong_token), "token leaked");
        assert!(!text.contains(challenge), "challenge leaked");
        assert!(!text.contains(&nonce), "nonce leaked");
    }
    assert_eq!(
        emu.counters().token_on_public_read,
        0,
        "the public read never carries the token"
    );
    assert!(
        emu.counters().calls(Route::ReadRequest) >= 3,
        "first read retried, then reconciled"
    );
}

#[test]
fn tokio_adapter_keeps_secrets() {
    no_secret_reaches_logs_debug_or_errors::<Tokio>();
}

#[test]
fn blocking_adapter_keeps_secrets() {
    no_secret_reaches_logs_debug_or_errors::<Blocking>();
}
