//! `LimeSite`: the site's side of a login, async. The rules live in
//! `lime_core::site`; this module connects them to hyper.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use lime_core::Error;
use lime_core::drive::{TransportError, TransportErrorKind};
use lime_core::site::{
    CreateBinding, CreateRequest, Decided, EventStream, ExchangeBinding, KeySet, REPLAY_ALL,
    ReadRequest, StreamOutput, Wait,
};

pub use lime_core::site::{
    BindingRequest, Expected, LoginRequest, Outcome, Passport, PassportRefused, RequestState,
    SiteEvent, VerifiedBinding, VerifiedPassport,
};

use crate::agent::drive;
use crate::keys::Keys;
use crate::resolve::Resolver;
use crate::transport::{api_client, classify};

/// A site: creates login requests, follows their events and verifies the
/// passports agents send back. Cheap to clone (one `Arc`): clones share the
/// connection pool and the cached key set.
///
/// ```no_run
/// # async fn run() -> Result<(), lime_tokio::Error> {
/// use std::time::Duration;
/// use lime_tokio::site::{LimeSite, Outcome};
/// let site = LimeSite::from_env()?; // LIME_SITE_TOKEN, LIME_API_BASE
/// let request = site.create_login_request().await?;
/// // … hand request.request_id to an agent …
/// match site.wait(&request.request_id, Duration::from_secs(60)).await? {
///     Outcome::Approved(passport) => println!("signed in as {}", passport.agent_id),
///     other => println!("not signed in: {other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LimeSite {
    /// The configuration, the client and the cached key set.
    keys: Arc<Keys>,
}

impl std::fmt::Debug for LimeSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimeSite")
            .field("config", self.keys.config())
            .finish_non_exhaustive()
    }
}

impl LimeSite {
    lime_core::site_constructors!(LimeSiteBuilder, |site| site.keys.config());

    /// Creates a login request; hand its id to an agent. Retried only when
    /// the service says it did not process it, so no stray request is made.
    ///
    /// # Errors
    /// [`Error::Authentication`] for a refused site token; transport and
    /// API errors once retries are spent.
    pub async fn create_login_request(&self) -> Result<LoginRequest, Error> {
        let mut flow = CreateRequest::new(self.keys.config(), Instant::now());
        self.drive(&mut flow).await
    }

    /// A login request as the public read shows it (no token is sent).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed id, [`Error::Api`] with
    /// `LOGIN_REQUEST_NOT_FOUND` for an unknown one.
    pub async fn request_status(&self, request_id: &str) -> Result<RequestState, Error> {
        let mut flow = ReadRequest::new(self.keys.config(), request_id, Instant::now())?;
        self.drive(&mut flow).await
    }

    /// The site's event stream from now on; see [`Events`].
    pub fn events(&self) -> Events {
        Events::new(
            self.clone(),
            EventStream::new(self.keys.config(), Instant::now()),
        )
    }

    /// The event stream resumed after the event `cursor` (an id saved from
    /// [`Events::last_event_id`], say across a restart): every later event
    /// the service still holds comes first.
    pub fn events_after(&self, cursor: &str) -> Events {
        let stream = EventStream::new(self.keys.config(), Instant::now()).resume_from(cursor);
        Events::new(self.clone(), stream)
    }

    /// Verifies `passport` for the request this site created (`request_id`,
    /// always bound): RS256 with a key of the service's key set (fetched
    /// when a passport names a key it lacks, at most once per 30 s), `aud`,
    /// `iss` (the API's origin), `sub`, and its times against the clock.
    ///
    /// # Errors
    /// [`Error::PassportRefused`] with the rule it breaks; transport errors
    /// when the key set cannot be fetched.
    pub async fn verify_passport(
        &self,
        passport: &str,
        request_id: &str,
    ) -> Result<VerifiedPassport, Error> {
        let expected = Expected::new(self.keys.config().base_url().origin(), request_id);
        self.verify_with(passport, &expected).await
    }

    /// As [`verify_passport`](Self::verify_passport) with the rules of
    /// `expected` (a leeway, a check as of issue, no request binding).
    ///
    /// # Errors
    /// As [`verify_passport`](Self::verify_passport).
    pub async fn verify_with(
        &self,
        passport: &str,
        expected: &Expected,
    ) -> Result<VerifiedPassport, Error> {
        lime_tls::verify_passport(passport, &self.keys(passport).await?, expected)
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
    pub async fn create_binding_request(
        &self,
        redirect_uri: &str,
    ) -> Result<BindingRequest, Error> {
        let mut flow = CreateBinding::new(self.keys.config(), redirect_uri, Instant::now())?;
        self.drive(&mut flow).await
    }

    /// Exchanges a binding's one-time code for its passport and verifies
    /// it ([`verify_binding_passport`](Self::verify_binding_passport)):
    /// the agent the user chose, and the binding to match to the one kept.
    ///
    /// # Errors
    /// [`Error::Api`] for a code the service does not take (unknown, spent,
    /// expired); [`Error::PassportRefused`] for a passport that fails.
    pub async fn exchange_binding_code(
        &self,
        binding_code: &str,
    ) -> Result<VerifiedBinding, Error> {
        let mut flow = ExchangeBinding::new(self.keys.config(), binding_code, Instant::now())?;
        let passport = self.drive(&mut flow).await?;
        self.verify_binding_passport(passport.as_str()).await
    }

    /// Verifies a binding passport: RS256 with a key of the service's key
    /// set, `aud` `lime-binding`, `iss`, `sub`, a non-empty `binding_id`,
    /// and at most 60 s of life.
    ///
    /// # Errors
    /// As [`verify_passport`](Self::verify_passport).
    pub async fn verify_binding_passport(&self, passport: &str) -> Result<VerifiedBinding, Error> {
        let keys = self.keys(passport).await?;
        lime_tls::verify_binding_passport(passport, &keys, self.keys.config().base_url().origin())
    }

    /// The key set to check `passport` with: cached, or fetched.
    async fn keys(&self, passport: &str) -> Result<KeySet, Error> {
        let keys = self.keys.for_token(passport).await?;
        keys.ok_or(Error::PassportRefused(PassportRefused::Malformed))
    }

    /// Waits up to `timeout` for `request_id` to be decided: first the
    /// public read (an unknown id is an error at once, an expired one
    /// [`Outcome::Expired`] at once), then the event stream, replayed from
    /// its start so an approval that came first is not missed. A request
    /// approved before the wait gets
    /// [`REPLAY_GRACE`](lime_core::site::REPLAY_GRACE) for its event to be
    /// replayed, else [`Outcome::ApprovedWithoutPassport`].
    ///
    /// # Errors
    /// As [`request_status`](Self::request_status) and
    /// [`verify_passport`](Self::verify_passport); a stream stopped for
    /// good (a refused site token).
    pub async fn wait(&self, request_id: &str, timeout: Duration) -> Result<Outcome, Error> {
        let wait = match Wait::new(self.request_status(request_id).await?, timeout) {
            Ok(wait) => wait,
            Err(outcome) => return Ok(outcome),
        };
        let mut events = self.events_after(REPLAY_ALL);
        let decided = tokio::time::timeout(wait.listen_for(), async {
            loop {
                if let Some(decided) = wait.on_event(events.next().await?) {
                    return Ok::<_, Error>(decided);
                }
            }
        })
        .await;
        match decided {
            Ok(Ok(Decided::Passport(passport))) => {
                let checked = self
                    .verify_passport(passport.as_str(), wait.request_id())
                    .await;
                wait.verified(checked)
            }
            Ok(Ok(Decided::Expired)) => Ok(Outcome::Expired),
            Ok(Err(error)) => Err(error),
            Err(_) => Ok(wait.timed_out()),
        }
    }

    async fn drive<F: lime_core::drive::Flow>(&self, flow: &mut F) -> Result<F::Value, Error> {
        drive(
            self.keys.client(),
            self.keys.config().max_body_bytes(),
            flow,
        )
        .await
    }
}

/// A site's event stream: reconnects forever (capped backoff), resumes
/// with `Last-Event-ID`, notices a silent connection after
/// [`DEFAULT_READ_TIMEOUT`](lime_core::site::DEFAULT_READ_TIMEOUT), and
/// delivers each event once. Read it with [`next`](Self::next) or as a
/// [`futures_core::Stream`]; it ends only when the service refuses it for
/// good (a bad site token, a TLS failure).
///
/// ```no_run
/// # async fn run(site: lime_tokio::site::LimeSite) -> Result<(), lime_tokio::Error> {
/// use lime_tokio::site::SiteEvent;
/// let mut events = site.events();
/// loop {
///     if let SiteEvent::Approved { request_id, passport, .. } = events.next().await? {
///         let verified = site.verify_passport(passport.as_str(), &request_id).await?;
///         println!("{request_id}: {}", verified.agent_id);
///     }
///     // events.last_event_id() is the cursor to save for a restart.
/// }
/// # }
/// ```
pub struct Events {
    /// `None` while a [`Stream`](futures_core::Stream) poll holds it.
    state: Option<EventsState>,
    pending: Option<NextEvent>,
    stopped: bool,
}

/// A `Stream` poll's read in flight: it owns the state until it ends.
type NextEvent = Pin<Box<dyn Future<Output = (EventsState, Result<SiteEvent, Error>)> + Send>>;

struct EventsState {
    site: LimeSite,
    stream: EventStream,
    body: Option<Incoming>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("stream", &self.state.as_ref().map(|s| &s.stream))
            .finish_non_exhaustive()
    }
}

impl Events {
    fn new(site: LimeSite, stream: EventStream) -> Self {
        Events {
            state: Some(EventsState {
                site,
                stream,
                body: None,
            }),
            pending: None,
            stopped: false,
        }
    }

    /// The next event. Cancel-safe: dropping the future loses no event.
    ///
    /// # Errors
    /// The error that stopped the stream for good; every later call
    /// returns it again.
    pub async fn next(&mut self) -> Result<SiteEvent, Error> {
        if let Some(pending) = self.pending.take() {
            let (state, result) = pending.await;
            self.state = Some(state);
            return result;
        }
        match self.state.as_mut() {
            Some(state) => state.next().await,
            None => Err(Error::internal("the event stream was lost")),
        }
    }

    /// The id of the last event delivered: the cursor to save and pass to
    /// [`LimeSite::events_after`] after a restart. `None` while a
    /// `Stream` poll is in flight.
    pub fn last_event_id(&self) -> Option<&str> {
        self.state.as_ref()?.stream.last_event_id()
    }
}

impl futures_core::Stream for Events {
    type Item = Result<SiteEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.stopped {
            return Poll::Ready(None);
        }
        if self.pending.is_none() {
            let Some(mut state) = self.state.take() else {
                return Poll::Ready(None);
            };
            self.pending = Some(Box::pin(async move {
                let result = state.next().await;
                (state, result)
            }));
        }
        let Some(pending) = self.pending.as_mut() else {
            return Poll::Ready(None);
        };
        match pending.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((state, result)) => {
                self.pending = None;
                self.state = Some(state);
                self.stopped = result.is_err();
                Poll::Ready(Some(result))
            }
        }
    }
}

impl EventsState {
    async fn next(&mut self) -> Result<SiteEvent, Error> {
        let now = Instant::now;
        loop {
            match self.stream.poll_output(now()) {
                StreamOutput::Event(event) => return Ok(event),
                StreamOutput::Stopped(error) => return Err(error),
                StreamOutput::Wait(until) => {
                    tokio::time::sleep_until(until.into()).await;
                    self.stream.handle_timeout(now());
                }
                StreamOutput::Connect(transmit) => {
                    self.body = None;
                    self.connect(transmit).await;
                }
                StreamOutput::Read(deadline) => {
                    let Some(body) = self.body.as_mut() else {
                        self.stream.handle_disconnect(None, now());
                        continue;
                    };
                    match tokio::time::timeout_at(deadline.into(), body.frame()).await {
                        Ok(Some(Ok(frame))) => {
                            if let Ok(data) = frame.into_data() {
                                self.stream.handle_chunk(&data, now());
                            }
                        }
                        Ok(Some(Err(e))) => {
                            self.body = None;
                            let lost = TransportError::new(
                                TransportErrorKind::ConnectionLost,
                                e.to_string(),
                            );
                            self.stream.handle_disconnect(Some(lost), now());
                        }
                        Ok(None) => {
                            self.body = None;
                            self.stream.handle_disconnect(None, now());
                        }
                        Err(_) => {
                            self.body = None;
                            let silent = TransportError::new(
                                TransportErrorKind::Timeout,
                                "the event stream was silent past its read timeout",
                            );
                            self.stream.handle_disconnect(Some(silent), now());
                        }
                    }
                }
            }
        }
    }

    async fn connect(&mut self, transmit: lime_core::drive::Transmit) {
        let now = Instant::now;
        let deadline = tokio::time::Instant::from_std(transmit.deadline);
        let (parts, body) = transmit.request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let client = &self.site.keys.client();
        let response = match tokio::time::timeout_at(deadline, client.send_request(request)).await {
            Err(_) => Err(TransportError::new(
                TransportErrorKind::Timeout,
                "the event stream did not answer before the timeout",
            )),
            Ok(result) => result.map_err(classify),
        };
        let response = match response {
            Ok(response) => response,
            Err(error) => return self.stream.handle_disconnect(Some(error), now()),
        };
        if response.status() == http::StatusCode::OK {
            self.body = Some(response.into_body());
            return self.stream.handle_open(now());
        }
        let max = self.site.keys.config().max_body_bytes();
        let (parts, body) = response.into_parts();
        let read = http_body_util::Limited::new(body, max).collect();
        match tokio::time::timeout_at(deadline, read).await {
            Ok(Ok(bytes)) => {
                let response = http::Response::from_parts(parts, bytes.to_bytes().to_vec());
                self.stream.handle_refused(response, now());
            }
            _ => {
                let lost = TransportError::new(
                    TransportErrorKind::ConnectionLost,
                    format!(
                        "reading the event stream's HTTP {} answer failed",
                        parts.status.as_u16()
                    ),
                );
                self.stream.handle_disconnect(Some(lost), now());
            }
        }
    }
}

/// Builds a [`LimeSite`]: the same TLS, roots, proxy and timeout settings
/// as [`LimeAgentBuilder`](crate::LimeAgentBuilder), with the site token.
#[derive(Debug, Default)]
pub struct LimeSiteBuilder {
    config: lime_core::ConfigSlot,
    resolve: std::collections::HashMap<String, std::net::IpAddr>,
}

impl LimeSiteBuilder {
    lime_core::site_builder_setters!(config);

    /// Connects to `host` at `addr`'s IP without asking DNS (the port
    /// comes from the URL); TLS still checks `host`'s certificate.
    #[must_use]
    pub fn resolve(mut self, host: &str, addr: std::net::SocketAddr) -> Self {
        self.resolve
            .insert(host.trim().to_ascii_lowercase(), addr.ip());
        self
    }
    /// Builds the site.
    ///
    /// # Errors
    /// As [`ConfigBuilder::build_site`](lime_core::ConfigBuilder::build_site),
    /// or [`Error::Config`] for a bad root certificate.
    pub fn build(mut self) -> Result<LimeSite, Error> {
        let config = self.config.build_site()?;
        let client = api_client(&config, &Resolver::pinned(self.resolve, None)?)?;
        Ok(LimeSite {
            keys: Arc::new(Keys::new(config, client)),
        })
    }
}
