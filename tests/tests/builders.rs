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
        Err(Error::Config { reason }) => assert!(reason.contains("config("), "{reason}"),
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
    let (result, stats) = std::thread::scope(|scope| {
        let login = scope.spawn(|| agent.login_with_progress(&id, progress.clone(), &cancel));
        // Cancel once hashing is visibly under way.
        while progress.hashes() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        cancel.cancel();
        login.join().unwrap()
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(stats.hashes > 0 && progress.hashes() >= stats.hashes);
    assert_eq!(emu.counters().approvals(&id), 0);
}
