//! The two adapters' front ends behave the same: a built `Config` never
//! silently drops setters called beside it, and blocking users get progress
//! and cancellation as async users do.
#![forbid(unsafe_code)]

use std::time::Duration;

use lime_core::lime_pow::{CancelToken, Progress};
use lime_core::{Config, Error};
use lime_emulator::Emulator;

fn built() -> Config {
    Config::builder()
        .token("at_example-token")
        .base_url("http://127.0.0.1:9/api/v1")
        .env_lookup(|_| None)
        .build()
        .unwrap()
}

fn refused(result: Result<impl std::fmt::Debug, Error>) {
    match result {
        Err(Error::Config { reason, .. }) => assert!(reason.contains("config("), "{reason}"),
        other => panic!("settings beside a built Config were accepted: {other:?}"),
    }
}

#[test]
fn a_built_config_beside_setters_is_an_error_in_both_adapters() {
    refused(
        lime_tokio::LimeAgent::builder()
            .token("at_other")
            .config(built())
            .build(),
    );
    refused(
        lime_tokio::LimeAgent::builder()
            .config(built())
            .timeout(Duration::from_secs(1))
            .build(),
    );
    refused(
        lime_blocking::LimeAgent::builder()
            .config(built())
            .https_proxy("http://proxy:3128", "")
            .build(),
    );
    // Either alone is fine.
    assert!(
        lime_tokio::LimeAgent::builder()
            .config(built())
            .build()
            .is_ok()
    );
    assert!(
        lime_blocking::LimeAgent::builder()
            .config(built())
            .build()
            .is_ok()
    );
    assert!(lime_blocking::LimeAgent::new(built()).is_ok());
}

#[test]
fn a_blocking_login_reports_progress_and_stops_when_cancelled_from_another_thread() {
    let emu = Emulator::builder().difficulty(60).start_blocking().unwrap();
    let agent = lime_blocking::LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .pow_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let (progress, cancel) = (Progress::new(), CancelToken::new());
    let id = emu.create_request();
    let result = std::thread::scope(|scope| {
        let login = scope.spawn(|| agent.login_with_progress(&id, progress.clone(), &cancel));
        // Cancel once hashing is visibly under way.
        while progress.hashes() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        cancel.cancel();
        login.join().unwrap()
    });
    let failure = result.expect_err("a cancelled login fails");
    assert!(failure.error.is_cancelled(), "{failure:?}");
    let stats = failure.pow;
    assert!(stats.hashes > 0 && progress.hashes() >= stats.hashes);
    assert_eq!(emu.counters().approvals(&id), 0);
}

/// Every setter, in the same words on both builders: the same `Config` out.
macro_rules! every_setter {
    ($builder:expr) => {
        $builder
            .token("at_example-token")
            .base_url("http://10.1.2.3:8080/api/v1")
            .allow_http(true)
            .timeout(Duration::from_secs(7))
            .deadline(Duration::from_secs(70))
            .max_retries(5)
            .pow_timeout(Duration::from_secs(9))
            .pow_scheme(lime_tokio::PowSchemeChoice::V1)
            .pow_threads(1)
            .user_agent("my-agent/1.0")
            .max_body_bytes(4096)
            .https_proxy("http://proxy.example:3128", "localhost")
            .add_root_certificates_pem(test_ca().as_bytes())
            .os_roots(false)
            .configure(|c| c.env_lookup(|_| None))
    };
}

/// A CA certificate in PEM (the emulator's generated one), only parsed here.
fn test_ca() -> String {
    use std::sync::OnceLock;
    static CA: OnceLock<String> = OnceLock::new();
    CA.get_or_init(|| {
        let emu = Emulator::builder()
            .tls(lime_emulator::TlsSource::Generated)
            .start_blocking()
            .unwrap();
        emu.ca_pem().unwrap().to_owned()
    })
    .clone()
}

#[test]
fn both_builders_take_the_same_setters_and_build_the_same_config() {
    let tokio = every_setter!(lime_tokio::LimeAgent::builder())
        .build()
        .unwrap();
    let blocking = every_setter!(lime_blocking::LimeAgent::builder())
        .build()
        .unwrap();
    let (a, b) = (tokio.config(), blocking.config());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a.base_url().as_str(), "http://10.1.2.3:8080/api/v1");
    assert_eq!(
        (a.timeout(), a.deadline()),
        (Duration::from_secs(7), Some(Duration::from_secs(70)))
    );
    assert_eq!(
        (a.max_retries(), a.pow_threads(), a.max_body_bytes()),
        (5, 1, 4096)
    );
    assert_eq!(
        (a.user_agent(), a.extra_roots().len(), a.os_roots()),
        ("my-agent/1.0", 1, Some(false))
    );
    // Plain HTTP off loopback without the opt-in: the message names the fix.
    let refused = lime_blocking::LimeAgent::builder()
        .token("at_example-token")
        .base_url("http://10.1.2.3:8080/api/v1")
        .build()
        .unwrap_err()
        .to_string();
    assert!(refused.contains("allow_http(true)"), "{refused}");
    let bad_pem = lime_tokio::LimeAgent::builder()
        .token("at_example-token")
        .add_root_certificates_pem(b"not a certificate")
        .build()
        .unwrap_err()
        .to_string();
    assert!(bad_pem.contains("add_root_certificates_pem"), "{bad_pem}");
}

#[test]
fn from_token_is_the_one_line_start_in_both_adapters() {
    let blocking = lime_blocking::LimeAgent::from_token("at_one_line").unwrap();
    let tokio = lime_tokio::LimeAgent::from_token("at_one_line").unwrap();
    for config in [blocking.config(), tokio.config()] {
        assert_eq!(config.token().unwrap().expose_secret(), "at_one_line");
    }
    assert!(
        lime_blocking::LimeAgent::from_token("").is_err(),
        "an empty token"
    );
}
