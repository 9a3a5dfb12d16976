//! The profile flow: one authenticated GET, retried.

use std::time::Instant;

use http::Method;

use crate::envelope::classify;
use crate::fields::Fields;
use crate::io::{Output, build_request};
use crate::retry::retry_after;
use crate::step::Stepper;
use crate::{AgentProfile, Config, HttpResponse, TransportError};

/// The profile endpoint's path under the base URL.
pub(crate) const PROFILE_PATH: &str = "/core/agents/me/profile";

/// Reads the agent's profile (`GET /core/agents/me/profile`) as a state
/// machine; drive it like [`Login`](crate::Login).
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, Profile, drive::Output};
/// let config = Config::builder().token("at_example").base_url("http://127.0.0.1:1/api/v1").build()?;
/// # #[allow(clippy::disallowed_methods)]
/// let mut profile = Profile::new(&config, Instant::now());
/// let Output::Send(transmit) = profile.poll_output() else { unreachable!() };
/// assert_eq!(transmit.request.uri(), "http://127.0.0.1:1/api/v1/core/agents/me/profile");
/// # Ok::<(), lime_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Profile {
    config: Config,
    stepper: Stepper<AgentProfile>,
    now: Instant,
}

impl Profile {
    /// A profile read starting at `now`. It has no overall deadline: each
    /// attempt has the per-attempt timeout.
    pub fn new(config: &Config, now: Instant) -> Self {
        Profile {
            config: config.clone(),
            stepper: Stepper::new(config.max_retries(), config.timeout(), None, now_seed(now)),
            now,
        }
    }

    /// Seeds the backoff jitter (pass randomness to spread clients apart).
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.stepper.reseed(seed);
        self
    }

    /// What to do next.
    pub fn poll_output(&mut self) -> Output<AgentProfile> {
        let config = &self.config;
        self.stepper.poll(self.now, || {
            build_request(config, Method::GET, PROFILE_PATH, true, None)
        })
    }

    /// Feeds the response to the request last sent.
    pub fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        self.now = now;
        if !self
            .stepper
            .take_response_slot(now, Some(response.status().as_u16()))
        {
            return;
        }
        let status = response.status().as_u16();
        match classify(&response, self.config.max_body_bytes()) {
            // A well-formed envelope whose fields are wrong is final.
            Ok(data) => self.stepper.finish(AgentProfile::from_fields(&Fields {
                object: &data,
                status,
            })),
            Err(e) => self
                .stepper
                .settle(Err(e), retry_after(&response), now, "profile"),
        }
    }

    /// Feeds a transport failure of the request last sent.
    pub fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        self.now = now;
        self.stepper.settle_transport_error(error, now, "profile");
    }

    /// Ends a wait; call at or after the instant [`Output::Wait`] named.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.stepper.handle_timeout(now);
    }
}

/// A default jitter seed from the flow's start instant: flows started at
/// different moments jitter differently, with no clock read or OS randomness.
pub(crate) fn now_seed(now: Instant) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    now.hash(&mut h);
    h.finish()
}
