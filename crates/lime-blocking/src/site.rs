//! `LimeSite`: the site's side of a login, blocking. The rules live in
//! `lime_core::site`; this module connects them to ureq.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lime_core::drive::{TransportError, TransportErrorKind};
pub use lime_core::site::{
    BindingRequest, Expected, LoginRequest, Outcome, Passport, PassportRefused, RequestState,
    SiteEvent, VerifiedBinding, VerifiedPassport,
};
use lime_core::site::{
    CreateBinding, CreateRequest, Decided, EventStream, ExchangeBinding, FetchKeys, KeyCache,
    KeySet, REPLAY_ALL, ReadRequest, StreamOutput, Wait, key_id,
};
use lime_core::{Config, Error};

use crate::agent::{drive, http_agent};
use crate::transport::{open_stream, read_body};

/// A site for synchronous code: creates login requests, follows their
/// events and verifies the passports agents send back. Cheap to clone;
/// clones share the connection pool and the cached key set.
///
/// ```no_run
/// use std::time::Duration;
/// use lime_blocking::site::{LimeSite, Outcome};
/// let site = LimeSite::from_env()?; // LIME_SITE_TOKEN, LIME_API_BASE
/// let request = site.create_login_request()?;
/// // … hand request.request_id to an agent …
/// match site.wait(&request.request_id, Duration::from_secs(60))? {
///     Outcome::Approved(passport) => println!("signed in as {}", passport.agent_id),
///     other => println!("not signed in: {other:?}"),
/// }
/// # Ok::<(), lime_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct LimeSite {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    http: ureq::Agent,
    keys: KeyCache,
}

impl std::fmt::Debug for LimeSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimeSite")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl LimeSite {
    lime_core::site_constructors!(LimeSiteBuilder, |site| &site.inner.config);

    /// Creates a login request; hand its id to an agent. Retried only when
    /// the service says it did not process it, so no stray request is made.
    ///
    /// # Errors
    /// [`Error::Authentication`] for a refused site token; transport and
    /// API errors once retries are spent.
    pub fn create_login_request(&self) -> Result<LoginRequest, Error> {
        self.drive(&mut CreateRequest::new(&self.inner.config, Instant::now()))
    }

    /// A login request as the public read shows it (no token is sent).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed id, [`Error::Api`] with
    /// `LOGIN_REQUEST_NOT_FOUND` for an unknown one.
    pub fn request_status(&self, request_id: &str) -> Result<RequestState, Error> {
        self.drive(&mut ReadRequest::new(
            &self.inner.config,
            request_id,
            Instant::now(),
        )?)
    }

    /// The site's event stream from now on; see [`Events`].
    pub fn events(&self) -> Events {
        Events::new(
            self.clone(),
            EventStream::new(&self.inner.config, Instant::now()),
        )
    }

    /// The event stream resumed after the event `cursor` (an id saved from
    /// [`Events::last_event_id`], say across a restart).
    pub fn events_after(&self, cursor: &str) -> Events {
        let stream = EventStream::new(&self.inner.config, Instant::now()).resume_from(cursor);
        Events::new(self.clone(), stream)
    }

    /// Verifies `passport` for the request this site created (`request_id`,
    /// always bound); as `lime_tokio::site::LimeSite::verify_passport`.
    ///
    /// # Errors
    /// [`Error::PassportRefused`] with the rule it breaks; transport errors
    /// when the key set cannot be fetched.
    pub fn verify_passport(
        &self,
        passport: &str,
        request_id: &str,
    ) -> Result<VerifiedPassport, Error> {
        let expected = Expected::new(self.inner.config.base_url().origin(), request_id);
        self.verify_with(passport, &expected)
    }

    /// As [`verify_passport`](Self::verify_passport) with the rules of
    /// `expected`.
    ///
    /// # Errors
    /// As [`verify_passport`](Self::verify_passport).
    pub fn verify_with(
        &self,
        passport: &str,
        expected: &Expected,
    ) -> Result<VerifiedPassport, Error> {
        lime_tls::verify_passport(passport, &self.keys_for(passport)?, expected)
    }

    /// The key set to check `passport` with: cached, or fetched.
    fn keys_for(&self, passport: &str) -> Result<KeySet, Error> {
        let kid = key_id(passport).ok_or(Error::PassportRefused(PassportRefused::Malformed))?;
        if let Some(keys) = self.inner.keys.keys_for(&kid, Instant::now())? {
            return Ok(keys);
        }
        let fetched = self.drive(&mut FetchKeys::new(&self.inner.config, Instant::now()));
        self.inner.keys.fetched(fetched, Instant::now())
    }

    /// Creates a binding request: keep its `binding_id` with the signed-in
    /// user, then send the browser to its `connect_url`; the service sends
    /// the browser back to `redirect_uri` with `?binding_code=`, for
    /// [`exchange_binding_code`](Self::exchange_binding_code).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] unless `redirect_uri` is an absolute
    /// `https://` URL (`http://` only to loopback); else as
    /// [`create_login_request`](Self::create_login_request).
    pub fn create_binding_request(&self, redirect_uri: &str) -> Result<BindingRequest, Error> {
        let mut flow = CreateBinding::new(&self.inner.config, redirect_uri, Instant::now())?;
        self.drive(&mut flow)
    }

    /// Exchanges a binding's one-time code for its passport and verifies
    /// it ([`verify_binding_passport`](Self::verify_binding_passport)):
    /// the agent the user chose, and the binding to match to the one kept.
    ///
    /// # Errors
    /// [`Error::Api`] for a code the service does not take (unknown, spent,
    /// expired); [`Error::PassportRefused`] for a passport that fails.
    pub fn exchange_binding_code(&self, binding_code: &str) -> Result<VerifiedBinding, Error> {
        let mut flow = ExchangeBinding::new(&self.inner.config, binding_code, Instant::now())?;
        let passport = self.drive(&mut flow)?;
        self.verify_binding_passport(passport.as_str())
    }

    /// Verifies a binding passport: RS256 with a key of the service's key
    /// set, `aud` `lime-binding`, `iss`, `sub`, a non-empty `binding_id`,
    /// and at most 60 s of life.
    ///
    /// # Errors
    /// As [`verify_passport`](Self::verify_passport).
    pub fn verify_binding_passport(&self, passport: &str) -> Result<VerifiedBinding, Error> {
        let issuer = self.inner.config.base_url().origin();
        lime_tls::verify_binding_passport(passport, &self.keys_for(passport)?, issuer)
    }

    /// Waits up to `timeout` for `request_id` to be decided, by the rules of
    /// [`Wait`]: an unknown id is an error at once, an expired one
    /// [`Outcome::Expired`] at once.
    ///
    /// # Errors
    /// As [`request_status`](Self::request_status) and
    /// [`verify_passport`](Self::verify_passport); a stream stopped for
    /// good (a refused site token).
    pub fn wait(&self, request_id: &str, timeout: Duration) -> Result<Outcome, Error> {
        let wait = match Wait::new(self.request_status(request_id)?, timeout) {
            Ok(wait) => wait,
            Err(outcome) => return Ok(outcome),
        };
        let until = Instant::now() + wait.listen_for();
        for event in self.events_after(REPLAY_ALL).until(until) {
            match wait.on_event(event?) {
                Some(Decided::Passport(passport)) => {
                    let checked = self.verify_passport(passport.as_str(), wait.request_id());
                    return wait.verified(checked);
                }
                Some(Decided::Expired) => return Ok(Outcome::Expired),
                None => {}
            }
        }
        Ok(wait.timed_out())
    }

    fn drive<F: lime_core::drive::Flow>(&self, flow: &mut F) -> Result<F::Value, Error> {
        drive(&self.inner.http, self.inner.config.max_body_bytes(), flow)
    }
}

/// A site's event stream as an iterator: reconnects forever (capped
/// backoff), resumes with `Last-Event-ID`, delivers each event once, and
/// ends only when the service refuses it for good (the last item is that
/// error) or at the instant given to [`until`](Self::until).
///
/// ureq bounds a response body as a whole, so an open stream is recycled
/// (reconnected with its cursor, nothing lost) every
/// [`DEFAULT_READ_TIMEOUT`](lime_core::site::DEFAULT_READ_TIMEOUT): that
/// is also how a dead connection is noticed.
pub struct Events {
    site: LimeSite,
    stream: EventStream,
    body: Option<ureq::BodyReader<'static>>,
    until: Option<Instant>,
    done: bool,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl Events {
    fn new(site: LimeSite, stream: EventStream) -> Self {
        Events {
            site,
            stream,
            body: None,
            until: None,
            done: false,
        }
    }

    /// Ends the iteration at `until` (checked between reads, so it ends
    /// within a read timeout of it: every keepalive is a read).
    #[must_use]
    pub fn until(mut self, until: Instant) -> Self {
        self.until = Some(until);
        self
    }

    /// The id of the last event delivered: the cursor to save and pass to
    /// [`LimeSite::events_after`] after a restart.
    pub fn last_event_id(&self) -> Option<&str> {
        self.stream.last_event_id()
    }

    fn read_timeout(&self, deadline: Instant) -> Duration {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.until {
            Some(until) => left.min(until.saturating_duration_since(Instant::now())),
            None => left,
        }
        .max(Duration::from_millis(1))
    }

    fn connect(&mut self, transmit: lime_core::drive::Transmit) {
        let read_for = lime_core::site::DEFAULT_READ_TIMEOUT;
        let read_for = self.read_timeout(Instant::now() + read_for);
        let response = match open_stream(&self.site.inner.http, transmit, read_for) {
            Ok(response) => response,
            Err(error) => return self.stream.handle_disconnect(Some(error), Instant::now()),
        };
        let (parts, body) = response.into_parts();
        if parts.status == http::StatusCode::OK {
            self.body = Some(body.into_reader());
            return self.stream.handle_open(Instant::now());
        }
        match read_body(body, self.site.inner.config.max_body_bytes()) {
            Ok(bytes) => {
                let response = http::Response::from_parts(parts, bytes);
                self.stream.handle_refused(response, Instant::now());
            }
            Err(error) => self.stream.handle_disconnect(Some(error), Instant::now()),
        }
    }

    fn read(&mut self) {
        let Some(body) = self.body.as_mut() else {
            return self.stream.handle_disconnect(None, Instant::now());
        };
        let mut chunk = [0u8; 16 * 1024];
        match body.read(&mut chunk) {
            Ok(0) => {
                self.body = None;
                self.stream.handle_disconnect(None, Instant::now());
            }
            Ok(n) => self.stream.handle_chunk(&chunk[..n], Instant::now()),
            Err(e) => {
                self.body = None;
                let kind = if e.kind() == std::io::ErrorKind::TimedOut {
                    TransportErrorKind::Timeout
                } else {
                    TransportErrorKind::ConnectionLost
                };
                let lost = TransportError::new(kind, e.to_string());
                self.stream.handle_disconnect(Some(lost), Instant::now());
            }
        }
    }
}

impl Iterator for Events {
    type Item = Result<SiteEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done || self.until.is_some_and(|until| Instant::now() >= until) {
                return None;
            }
            match self.stream.poll_output(Instant::now()) {
                StreamOutput::Event(event) => return Some(Ok(event)),
                StreamOutput::Stopped(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
                StreamOutput::Wait(until) => {
                    let wake = self.until.map_or(until, |end| end.min(until));
                    std::thread::sleep(wake.saturating_duration_since(Instant::now()));
                    self.stream.handle_timeout(Instant::now());
                }
                StreamOutput::Connect(transmit) => {
                    self.body = None;
                    self.connect(transmit);
                }
                StreamOutput::Read(_) => self.read(),
            }
        }
    }
}

/// Builds a [`LimeSite`]: the same TLS, roots, proxy and timeout settings
/// as [`LimeAgentBuilder`](crate::LimeAgentBuilder), with the site token.
#[derive(Debug, Default)]
pub struct LimeSiteBuilder {
    config: lime_core::ConfigSlot,
}

impl LimeSiteBuilder {
    lime_core::site_builder_setters!(config);

    /// Builds the site.
    ///
    /// # Errors
    /// As [`ConfigBuilder::build_site`](lime_core::ConfigBuilder::build_site),
    /// or [`Error::Config`] for a bad root certificate.
    pub fn build(mut self) -> Result<LimeSite, Error> {
        let config = self.config.build_site()?;
        let http = http_agent(&config)?;
        Ok(LimeSite {
            inner: Arc::new(Inner {
                config,
                http,
                keys: KeyCache::default(),
            }),
        })
    }
}
