//! The roots an agent's `Config` asks for: the file `LIME_CA_CERT` names is
//! read when TLS is set up, with a size bound, and a bad one is refused by
//! name.
#![forbid(unsafe_code)]

use lime_core::Config;

fn config_naming(path: &str) -> Config {
    let path = path.to_owned();
    Config::builder()
        .token("at_x")
        .env_lookup(move |name| (name == "LIME_CA_CERT").then(|| path.clone()))
        .build()
        .unwrap()
}

#[test]
fn a_ca_file_from_the_environment_is_trusted_and_a_bad_one_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("lime-tls-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let emulator = lime_emulator::Emulator::builder()
        .tls(lime_emulator::TlsSource::Generated)
        .start_blocking()
        .unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem().unwrap()).unwrap();
    let bundled = lime_tls::root_certificates(&config_naming(""))
        .unwrap()
        .len();
    let with_ca = lime_tls::root_certificates(&config_naming(ca.to_str().unwrap())).unwrap();
    assert_eq!(
        with_ca.len(),
        bundled + 1,
        "the emulator's CA is trusted too"
    );
    let missing = lime_tls::root_certificates(&config_naming("/nonexistent/ca.pem"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("LIME_CA_CERT=/nonexistent/ca.pem"),
        "{missing}"
    );
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let refused = lime_tls::root_certificates(&config_naming(not_pem.to_str().unwrap()))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("no certificate"), "{refused}");
    let huge = dir.join("huge.pem");
    let limit = lime_core::settings::MAX_CA_CERT_BYTES;
    std::fs::write(&huge, vec![b'-'; limit as usize + 1]).unwrap();
    let too_big = lime_tls::root_certificates(&config_naming(huge.to_str().unwrap()))
        .unwrap_err()
        .to_string();
    assert!(too_big.contains("larger than"), "{too_big}");
    std::fs::remove_dir_all(&dir).unwrap();
}
