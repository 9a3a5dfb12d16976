//! The TLS choices the cargo features make: the crypto provider they pick is
//! the one used, no process-wide provider is ever installed, and the OS
//! store is there exactly when asked for. CI also runs this file with
//! `--no-default-features --features ring,os-roots`.
#![forbid(unsafe_code)]

use lime_emulator::{Emulator, TlsSource};

fn expected_provider() -> &'static str {
    if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_over_https_uses_the_features_provider_and_installs_none() {
    let emu = Emulator::builder()
        .difficulty(8)
        .tls(TlsSource::Generated)
        .start()
        .await
        .unwrap();
    let agent = lime_tokio::LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .add_root_certificates_pem(emu.ca_pem().unwrap().as_bytes())
        .no_proxy()
        .build()
        .unwrap();
    let id = emu.create_request();
    assert_eq!(agent.login(&id).await.unwrap().request_id, id);
    assert_eq!(lime_tls::crypto_provider_name(), expected_provider());
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "lime never installs a process-wide provider"
    );
    // Without the CA, the same server is refused with a typed hint that
    // reaches the user however the error is printed, and the client's own
    // error below it.
    let untrusting = lime_tokio::LimeAgent::builder()
        .token(emu.agent_token())
        .base_url(emu.base_url())
        .no_proxy()
        .max_retries(0)
        .build()
        .unwrap();
    let error = untrusting.login(&emu.create_request()).await.unwrap_err();
    assert_eq!(error.hint(), Some(lime_tokio::Hint::TrustCa), "{error}");
    for printed in [error.to_string(), format!("{error:?}")] {
        assert!(printed.contains("add_root_certificates_pem"), "{printed}");
    }
    assert!(format!("{error:?}").contains("caused by:"), "{error:?}");
    assert!(std::error::Error::source(&error).is_some(), "{error:?}");
}

#[test]
fn os_roots_are_there_exactly_with_the_feature() {
    let build = |os: bool| {
        lime_tokio::LimeAgent::builder()
            .token("at_example-token")
            .base_url("https://lime.pics/api/v1")
            .os_roots(os)
            .no_proxy()
            .build()
    };
    let without = build(false);
    if cfg!(feature = "webpki-roots") {
        assert!(without.is_ok(), "{without:?}");
    } else {
        // No bundled roots, no OS roots, no extra roots: nothing to trust.
        let error = without.unwrap_err().to_string();
        assert!(error.contains("no TLS trust roots"), "{error}");
    }
    let asked = build(true);
    if cfg!(feature = "os-roots") {
        // The OS store of a CI container may be empty, never unreadable.
        assert!(asked.is_ok(), "{asked:?}");
    } else {
        let error = asked.unwrap_err().to_string();
        assert!(error.contains("`os-roots` feature"), "{error}");
    }
}
