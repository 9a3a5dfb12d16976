//! Secrets, for both adapters: with `tracing` and `log` records captured at
//! TRACE for whole runs (login, profile, retries, reconciliation, errors),
//! the token, the challenge, the nonce and MCP access tokens never appear; `Debug`/`Display`
//! of the public types redact the token; the public read never carries it.
//!
//! One exception, documented in lime-blocking's README: ureq-proto dumps
//! every byte it sends and receives at `log` TRACE under the `ureq_proto`
//! target. The capture applies the filter the README asks for
//! (`ureq_proto` at DEBUG at most), and a separate test shows the dump is
//! real, so the advice is needed.
#![forbid(unsafe_code)]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use lime_core::Config;
use lime_emulator::{Emulator, Fault, Route};
use lime_tests::{Adapter, Blocking, Tokio};

/// Everything every thread of this test binary logs, `tracing` and `log`,
/// at TRACE (ureq-proto's byte dumps aside, as lime-blocking's README
/// advises), plus the count of ureq-proto TRACE records left out.
fn captured() -> (Arc<Mutex<Vec<u8>>>, &'static AtomicUsize) {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || Sink(sink.clone()))
                .finish(),
        )
        .unwrap();
        log::set_boxed_logger(Box::new(LogBridge(log.clone()))).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        log
    });
    (log.clone(), &UREQ_PROTO_DUMPS)
}

static UREQ_PROTO_DUMPS: AtomicUsize = AtomicUsize::new(0);

/// `log` records into the same capture.
struct LogBridge(Arc<Mutex<Vec<u8>>>);

impl log::Log for LogBridge {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("ureq_proto") && record.level() == log::Level::Trace {
            UREQ_PROTO_DUMPS.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let line = format!(
            "LOG {} {}: {}\n",
            record.level(),
            record.target(),
            record.args()
        );
        self.0.lock().unwrap().extend_from_slice(line.as_bytes());
    }
    fn flush(&self) {}
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
    let (log, _) = captured();
    // Difficulty 16: nonces of 7+ digits, long enough to search the logs for.
    let emu = Emulator::builder().difficulty(16).start_blocking().unwrap();
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
    let id = emu.create_request_with(challenge, 16);
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
    // MCP access tokens: a mint after a retry, a cache hit, a forced
    // refresh, and a refused mint whose error is shown.
    emu.inject(
        Route::OAuthToken,
        Fault::Status {
            status: 503,
            retry_after: Some(0),
        },
        1,
    );
    let mcp = agent.mcp_token("mcp.example.com", false).unwrap();
    let cached = agent.mcp_token("mcp.example.com", false).unwrap();
    let refreshed = agent.mcp_token("mcp.example.com", true).unwrap();
    let mcp_error = wrong.mcp_token("mcp.example.com", false).unwrap_err();

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
        format!("{:?}", config.token().unwrap()),
        format!("{}", config.token().unwrap()),
        format!("{agent:?}"),
        format!("{wrong:?}"),
        format!("{error:?} {error}"),
        format!("{mcp:?} {mcp} {cached:?} {refreshed}"),
        format!("{mcp_error:?} {mcp_error}"),
    ];
    let mcp_secrets = [mcp.expose_secret(), refreshed.expose_secret()];
    for text in &texts {
        assert!(!text.contains(emu.agent_token()), "token leaked");
        assert!(!text.contains(wrong_token), "token leaked");
        assert!(!text.contains(challenge), "challenge leaked");
        assert!(!text.contains(&nonce), "nonce leaked");
        for jwt in mcp_secrets {
            // The whole JWT, and its signature alone.
            assert!(!text.contains(jwt), "MCP access token leaked");
            assert!(
                !text.contains(jwt.rsplit('.').next().unwrap()),
                "MCP token signature leaked"
            );
        }
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
    let (log, dumps) = captured();
    let logs = String::from_utf8_lossy(&log.lock().unwrap()).to_string();
    assert!(logs.contains("LOG "), "the log bridge captured nothing");
    // Why lime-blocking's README asks for `ureq_proto` at DEBUG at most.
    assert!(
        dumps.load(Ordering::Relaxed) > 0,
        "ureq-proto no longer dumps bytes at TRACE: the README's advice can go"
    );
}
