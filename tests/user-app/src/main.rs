//! What an application does beside lime: its own rustls client set-up with
//! rustls's defaults. It must not panic with "Could not automatically
//! determine the process-level CryptoProvider". Then a solve, whose first
//! use in an unoptimized build (a user's plain `cargo run`) logs the fix.
//!
//! `lime-user-app unoptimized|optimized`: which build CI expects lime-pow
//! to be.
#![forbid(unsafe_code)]

fn main() {
    let roots = rustls::RootCertStore::empty();
    let _own = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let blocking = lime_blocking::LimeAgent::builder()
        .token("at_user_app")
        .base_url("https://lime.example/api/v1")
        .build()
        .expect("a blocking agent beside the app's rustls");
    let tokio = lime_tokio::LimeAgent::builder()
        .token("at_user_app")
        .base_url("https://lime.example/api/v1")
        .build()
        .expect("an async agent beside the app's rustls");
    let provider = rustls::crypto::CryptoProvider::get_default().expect("rustls chose its provider");
    println!(
        "one provider in the build, rustls's own ClientConfig::builder() works ({} cipher suites); \
         lime agents built: {blocking:?}, {tokio:?}",
        provider.cipher_suites.len()
    );
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let expected = std::env::args().nth(1).unwrap_or_default();
    assert_eq!(
        lime_pow::BUILT_UNOPTIMIZED,
        expected == "unoptimized",
        "lime-pow's own optimization level, as its build script read it"
    );
    let solution = lime_pow::solve(lime_pow::Scheme::V1, b"user-app", 18).expect("a solve");
    let rate = solution.hashes as f64 / solution.elapsed.as_secs_f64().max(1e-9) / 1e6;
    println!(
        "solved difficulty 18 in {} hashes, {rate:.2} M hashes/s ({expected} lime-pow)",
        solution.hashes
    );
}
