//! Flows of one authenticated request, retried like a read: the profile
//! read and the MCP token mint. An [`Exchange`] says what is asked and how
//! the answer reads; retries, waits and the driver interface are written
//! once, here.

use std::fmt;
use std::time::Instant;

use http::Method;

use crate::envelope::classify;
use crate::fields::Fields;
use crate::io::{HttpRequest, Output, build_request};
use crate::known::KnownAgentId;
use crate::mcp::cache::TokenStore;
use crate::mcp::{McpTarget, McpTicket, parse_token_response};
use crate::retry::{now_seed, retry_after};
use crate::step::Stepper;
use crate::{AgentProfile, Config, Error, HttpResponse, TransportError};

/// The profile endpoint's path under the base URL.
pub(crate) const PROFILE_PATH: &str = "/core/agents/me/profile";
/// The mint endpoint's path under the base URL.
pub(crate) const MINT_PATH: &str = "/modules/oauth/token";

/// A flow of one authenticated request, retried like a read; drive it like
/// [`Login`](crate::Login) (or through [`Flow`](crate::drive::Flow)). Its
/// two kinds are [`Profile`] and [`MintToken`](crate::mcp::MintToken).
#[derive(Debug)]
pub struct OneRequest<E: Exchange> {
    config: Config,
    exchange: E,
    stepper: Stepper<E::Value>,
    now: Instant,
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// What one [`OneRequest`] asks and how it reads the answer. Sealed: its
/// kinds are [`ProfileRead`] and [`Mint`].
pub trait Exchange: fmt::Debug + sealed::Sealed {
    /// What the flow produces.
    type Value: Clone;
    /// The step's name in logs and errors.
    #[doc(hidden)]
    const STEP: &'static str;
    /// Whether sending it twice is harmless. A request that is not (a
    /// site's create) is sent again only when the answer or failure says
    /// it was not processed: 408, 429, 503, or nothing sent.
    #[doc(hidden)]
    const IDEMPOTENT: bool = true;
    /// The request (the same on every attempt).
    #[doc(hidden)]
    fn request(&self, config: &Config) -> HttpRequest;
    /// The answer's value, keeping what it teaches (an agent id, a token)
    /// where the agent finds it: nothing is left for a driver to forget.
    #[doc(hidden)]
    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        now: Instant,
    ) -> Result<Self::Value, Error>;
}

impl<E: Exchange> OneRequest<E> {
    pub(crate) fn start(config: &Config, exchange: E, seed: u64, now: Instant) -> Self {
        OneRequest {
            config: config.clone(),
            exchange,
            stepper: Stepper::new(config.max_retries(), config.timeout(), None, seed),
            now,
        }
    }

    /// Seeds the backoff jitter (pass randomness to spread clients apart).
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.stepper.reseed(seed);
        self
    }

    /// What to do next.
    pub fn poll_output(&mut self) -> Output<E::Value> {
        let (config, exchange) = (&self.config, &self.exchange);
        self.stepper.poll(self.now, || exchange.request(config))
    }

    /// Feeds the response to the request last sent.
    pub fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        self.now = now;
        let status = response.status().as_u16();
        if !self.stepper.take_response_slot(now, Some(status)) {
            return;
        }
        let result = self.exchange.read(&response, &self.config, now);
        if !E::IDEMPOTENT && !crate::retry::not_processed(status) {
            return self.stepper.finish(result);
        }
        self.stepper
            .finish_or_retry(result, retry_after(&response), now, E::STEP);
    }

    /// Feeds a transport failure of the request last sent.
    pub fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        self.now = now;
        if !E::IDEMPOTENT && error.may_have_been_processed() {
            if self.stepper.take_response_slot(now, None) {
                let error = self.stepper.transport_error(error);
                self.stepper.finish(Err(error));
            }
            return;
        }
        self.stepper
            .finish_or_retry_transport_error(error, now, E::STEP);
    }

    /// Ends a wait; call at or after the instant [`Output::Wait`] named.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.stepper.handle_timeout(now);
    }
}

impl<E: Exchange> crate::drive::Flow for OneRequest<E> {
    type Value = E::Value;
    fn poll_output(&mut self) -> Output<Self::Value> {
        OneRequest::poll_output(self)
    }
    fn handle_response(&mut self, response: HttpResponse, now: Instant) {
        OneRequest::handle_response(self, response, now);
    }
    fn handle_transport_error(&mut self, error: TransportError, now: Instant) {
        OneRequest::handle_transport_error(self, error, now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        OneRequest::handle_timeout(self, now);
    }
}

/// Reads the agent's profile (`GET /core/agents/me/profile`) as a state
/// machine; drive it like [`Login`](crate::Login). Started from an
/// [`AgentState`](crate::drive::AgentState), the agent id it reads is kept
/// there as soon as it is read.
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
pub type Profile = OneRequest<ProfileRead>;

impl Profile {
    /// A profile read starting at `now`. It has no overall deadline: each
    /// attempt has the per-attempt timeout.
    pub fn new(config: &Config, now: Instant) -> Self {
        Self::start(
            config,
            ProfileRead {
                known: KnownAgentId::default(),
            },
            now_seed(now),
            now,
        )
    }
}

/// The profile read's [`Exchange`].
#[derive(Debug)]
pub struct ProfileRead {
    pub(crate) known: KnownAgentId,
}

impl sealed::Sealed for ProfileRead {}

impl Exchange for ProfileRead {
    type Value = AgentProfile;
    const STEP: &'static str = "profile";

    fn request(&self, config: &Config) -> HttpRequest {
        build_request(config, Method::GET, PROFILE_PATH, true, None)
    }

    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        _now: Instant,
    ) -> Result<AgentProfile, Error> {
        let data = classify(response, config.max_body_bytes())?;
        let profile = AgentProfile::from_fields(&Fields::of(&data, response))?;
        self.known.learn(&profile.agent_id);
        Ok(profile)
    }
}

/// The mint's [`Exchange`]: `POST /modules/oauth/token` for one domain (a
/// second mint only issues another short-lived token, so it is retried
/// like a read). What it mints goes into its agent's token store before
/// the ticket is handed out.
#[derive(Debug)]
pub struct Mint {
    domain: String,
    store: TokenStore,
}

impl sealed::Sealed for Mint {}

impl Mint {
    pub(crate) fn flow(
        config: &Config,
        target: &McpTarget,
        store: TokenStore,
        seed: u64,
        now: Instant,
    ) -> OneRequest<Mint> {
        let domain = target.domain().to_owned();
        OneRequest::start(config, Mint { domain, store }, seed, now)
    }
}

impl OneRequest<Mint> {
    /// The domain being minted for.
    pub fn domain(&self) -> &str {
        &self.exchange.domain
    }
}

impl Exchange for Mint {
    type Value = McpTicket;
    const STEP: &'static str = "mint";

    fn request(&self, config: &Config) -> HttpRequest {
        let body = serde_json::json!({ "domain": self.domain })
            .to_string()
            .into_bytes();
        build_request(config, Method::POST, MINT_PATH, true, Some(body))
    }

    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        now: Instant,
    ) -> Result<McpTicket, Error> {
        let token = parse_token_response(response, &self.domain, now, config.max_body_bytes())?;
        tracing::debug!(target: "lime", domain = %self.domain, expires_in_s = token.expires_in().as_secs(), "MCP access token minted");
        Ok(self.store.keep(token))
    }
}
