//! Runnable examples for the lime SDK: `cargo run -p lime-examples --example NAME`.
//!
//! Each example talks to `LIME_API_BASE` with `LIME_AGENT_TOKEN` when set
//! (request ids then come from the command line), and otherwise starts an
//! embedded emulator, so it runs on a fresh machine with no network.
#![forbid(unsafe_code)]

use lime_emulator::{BlockingEmulator, Emulator};

/// Where an example's logins come from: the real service or an embedded emulator.
#[derive(Debug)]
pub struct Playground {
    /// The API root to use.
    pub base_url: String,
    /// The agent token to use.
    pub token: String,
    emulator: Option<BlockingEmulator>,
    ids: std::vec::IntoIter<String>,
}

impl Playground {
    /// `LIME_API_BASE` + `LIME_AGENT_TOKEN` + ids from the arguments when
    /// `LIME_API_BASE` is set; an emulator at `difficulty` otherwise.
    ///
    /// # Panics
    /// When the emulator cannot start (no loopback networking).
    pub fn start(difficulty: i64) -> Playground {
        match std::env::var("LIME_API_BASE") {
            Ok(base_url) if !base_url.is_empty() => Playground {
                base_url,
                token: std::env::var("LIME_AGENT_TOKEN").unwrap_or_default(),
                emulator: None,
                ids: std::env::args().skip(1).collect::<Vec<_>>().into_iter(),
            },
            _ => {
                let emulator = Emulator::builder()
                    .difficulty(difficulty)
                    .start_blocking()
                    .expect("the embedded emulator starts on loopback");
                Playground {
                    base_url: emulator.base_url(),
                    token: emulator.agent_token().to_owned(),
                    emulator: Some(emulator),
                    ids: Vec::new().into_iter(),
                }
            }
        }
    }

    /// The next login request id: a fresh one from the emulator, or the next argument.
    pub fn next_request(&mut self) -> Option<String> {
        match &self.emulator {
            Some(emulator) => Some(emulator.create_request()),
            None => self.ids.next(),
        }
    }

    /// The embedded emulator, when there is one.
    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_deref()
    }
}
