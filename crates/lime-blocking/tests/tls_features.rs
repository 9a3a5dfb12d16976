//! The TLS choices the cargo features make, for the blocking adapter: see
//! `lime-tokio`'s test of the same name. CI also runs this file with
//! `--no-default-features --features ring,os-roots`.
#![forbid(unsafe_code)]

use lime_emulator::{Emulator, TlsSource};

#[test]
fn a_login_over_https_uses_the_features_provider_and_installs_none() {
    let emu = Emulator::builder()
        .difficulty(8)
        .tls(TlsSource::Generated)
        .start_blocking()
        .unwrap();
    let agent = lime_blocking::LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
        .no_proxy()
        .build()
        .unwrap();
    let id = emu.create_request();
    assert_eq!(agent.login(&id).unwrap().request_id, id);
    let expected = if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    };
    assert_eq!(lime_tls::crypto_provider_name(), expected);
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    // Without the CA, the same server is refused with a hint.
    let untrusting = lime_blocking::LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .no_proxy()
        .max_retries(0)
        .build()
        .unwrap();
    let error = untrusting.login(&emu.create_request()).unwrap_err();
    assert_eq!(error.hint(), Some(lime_blocking::Hint::TrustCa), "{error}");
    // The hint reaches the user however the error is printed: `main`
    // returning `Err` prints `Debug`.
    for printed in [error.to_string(), format!("{error:?}")] {
        assert!(printed.contains("add_root_certificates_pem"), "{printed}");
        assert!(!printed.contains("io: "), "{printed}");
    }
    // ureq's own error stays reachable below, for `anyhow`'s `{:#}`.
    assert!(std::error::Error::source(&error).is_some(), "{error:?}");
}
