//! The token, the challenge and the nonce never reach logs, `Debug` or errors.
#![forbid(unsafe_code)]

mod scenario;

use std::io::Write;
use std::sync::{Arc, Mutex};

use lime_core::drive::TransportErrorKind;
use scenario::*;

const CHALLENGE: &str = "challenge-secret-7d1e";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_run_with_retries_and_errors_logs_no_secret_at_trace() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let (login, failed, profile) = tracing::subscriber::with_default(subscriber, || {
        let login = scenario()
            .reply(503, "")
            .reply(200, &pending(CHALLENGE, 6, None))
            .reply(400, &api_error("INVALID_POW", "wrong"))
            .transport(TransportErrorKind::ConnectionLost)
            .reply(200, &profile_body("user_id"))
            .reply(200, &request_state("PENDING", None, CHALLENGE))
            .reply(200, &approved(AGENT))
            .login("lr_1");
        let failed = scenario()
            .reply(200, &pending(CHALLENGE, 4, Some("v1")))
            .reply(401, &api_error("INVALID_AGENT_TOKEN", "bad token"))
            .login("lr_1");
        let profile = scenario()
            .reply(502, "")
            .reply(200, &profile_body("owner_id"))
            .profile();
        (login, failed, profile)
    });
    assert!(login.result.is_ok(), "{:?}", login.result);
    let nonces: Vec<String> = login
        .requests
        .iter()
        .chain(&failed.requests)
        .filter(|r| r.method() == "POST")
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(r.body()).unwrap()["pow_nonce"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(nonces.len(), 4);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "the run was logged: {logs}");
    assert!(logs.contains("sending"));
    let debug = format!("{login:?} {failed:?} {profile:?}");
    for text in [
        &logs,
        &debug,
        &failed.result.as_ref().unwrap_err().to_string(),
    ] {
        assert!(!text.contains(TOKEN), "token leaked");
        assert!(!text.contains(CHALLENGE), "challenge leaked");
        for nonce in &nonces {
            // Short nonces ("7") appear by chance in any text; check the
            // ones long enough to be recognisable.
            if nonce.len() >= 4 {
                assert!(
                    !text.contains(&format!("\"{nonce}\"")) && !text.contains(&format!("={nonce}")),
                    "nonce leaked"
                );
            }
        }
    }
}
