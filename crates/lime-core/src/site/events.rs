//! A site's event stream, sans-IO: one long-lived `GET
//! /modules/agent-login/events` that reconnects forever with capped
//! backoff and resumes with `Last-Event-ID`, so no event is lost or
//! delivered twice. Time is passed in; the driver connects, feeds chunks
//! and reports disconnects.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use http::{HeaderValue, Method};
use serde_json::Value;

use super::sse::{SseEvent, SseParser};
use crate::envelope::classify;
use crate::io::{Transmit, build_request};
use crate::retry::{Jitter, backoff, now_seed, retry_after};
use crate::step::later;
use crate::{Config, Error, HttpResponse, TransportError, TransportErrorKind};

/// The events endpoint's path under the base URL.
pub(crate) const EVENTS_PATH: &str = "/modules/agent-login/events";

/// How long a connected stream may stay silent before it is taken for
/// dead and reconnected: three of the service's 15 s keepalives.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(45);

/// An agent's passport as the stream carried it (a compact JWS). It proves
/// which agent approved; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Passport(String);

impl Passport {
    pub(crate) fn new(token: String) -> Self {
        Passport(token)
    }

    /// The token, for [`verify_passport`](super::verify_passport) or to
    /// hand on.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Passport(<{} bytes>)", self.0.len())
    }
}

/// One event of a site's stream. Keepalives are not events: they only
/// show the connection is alive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SiteEvent {
    /// An agent approved `request_id`; the passport says which agent
    /// (verify it before trusting it).
    Approved {
        /// The stream's event id.
        event_id: Option<String>,
        /// The login request.
        request_id: String,
        /// The agent's passport.
        passport: Passport,
    },
    /// `request_id` expired unapproved.
    Expired {
        /// The stream's event id.
        event_id: Option<String>,
        /// The login request.
        request_id: String,
    },
    /// The service reported an error on the stream.
    Error {
        /// Its code.
        code: String,
        /// Its message.
        message: String,
    },
    /// An event this version does not know, kept as sent.
    Other {
        /// The stream's event id.
        event_id: Option<String>,
        /// The `data` as sent.
        data: String,
    },
}

impl SiteEvent {
    fn parse(event: SseEvent) -> Option<Self> {
        let SseEvent { id, own_id, data } = event;
        let id = id.filter(|_| own_id);
        let Ok(Value::Object(value)) = serde_json::from_str::<Value>(&data) else {
            return Some(SiteEvent::Other { event_id: id, data });
        };
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(match value.get("type").and_then(Value::as_str) {
            Some("keepalive") => return None,
            Some("approved") => match (text("login_request_id"), text("agent_passport_jwt")) {
                (Some(request_id), Some(passport)) => SiteEvent::Approved {
                    event_id: id,
                    request_id,
                    passport: Passport(passport),
                },
                _ => SiteEvent::Other { event_id: id, data },
            },
            Some("expired") => match text("login_request_id") {
                Some(request_id) => SiteEvent::Expired {
                    event_id: id,
                    request_id,
                },
                None => SiteEvent::Other { event_id: id, data },
            },
            Some("error") => SiteEvent::Error {
                code: text("code").unwrap_or_default(),
                message: text("message").unwrap_or_default(),
            },
            _ => SiteEvent::Other { event_id: id, data },
        })
    }

    /// The login request the event is about, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            SiteEvent::Approved { request_id, .. } | SiteEvent::Expired { request_id, .. } => {
                Some(request_id)
            }
            _ => None,
        }
    }
}

/// What an [`EventStream`] asks its driver to do next.
#[derive(Debug)]
#[must_use]
pub enum StreamOutput {
    /// Open the stream: send this request and, once the response head is
    /// in, call [`EventStream::handle_open`] for a 200, else read the body
    /// and call [`EventStream::handle_refused`].
    Connect(Transmit),
    /// An event.
    Event(SiteEvent),
    /// Read the next chunk of the open stream and feed it to
    /// [`EventStream::handle_chunk`]; if none arrives by this instant, the
    /// connection is dead: report it with [`EventStream::handle_disconnect`].
    Read(Instant),
    /// Sleep until then; then call [`EventStream::handle_timeout`].
    Wait(Instant),
    /// The stream stopped for good (a refused site token, a TLS failure,
    /// an answer that retrying cannot change).
    Stopped(Error),
}

#[derive(Debug)]
enum Phase {
    Connect,
    Connecting,
    Open { read_until: Instant },
    Waiting(Instant),
    Stopped(Error),
}

/// The stream's state: the last event id (the resume cursor), the SSE
/// reader, and the reconnect schedule.
///
/// Several replicas of one site may each run a stream: the service sends
/// each event to every stream connected when it happens, so each replica
/// sees every event; a replica that restarts passes the id it saved
/// ([`last_event_id`](Self::last_event_id)) to
/// [`resume_from`](Self::resume_from) and gets what it missed.
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, site::{EventStream, SiteEvent, StreamOutput}};
/// let config = Config::builder().site_token("st_example").base_url("http://127.0.0.1:1/api/v1").build_site()?;
/// # #[allow(clippy::disallowed_methods)]
/// let now = Instant::now();
/// let mut stream = EventStream::new(&config, now).resume_from("41");
/// let StreamOutput::Connect(transmit) = stream.poll_output(now) else { unreachable!() };
/// assert_eq!(transmit.request.headers()["last-event-id"], "41");
/// stream.handle_open(now);
/// stream.handle_chunk(b"id: 42\ndata: {\"type\":\"expired\",\"login_request_id\":\"lr_1\"}\n\n", now);
/// let StreamOutput::Event(SiteEvent::Expired { request_id, .. }) = stream.poll_output(now) else { unreachable!() };
/// assert_eq!((request_id.as_str(), stream.last_event_id()), ("lr_1", Some("42")));
/// # Ok::<(), lime_core::Error>(())
/// ```
pub struct EventStream {
    config: Config,
    last_event_id: Option<String>,
    parser: SseParser,
    ready: VecDeque<SiteEvent>,
    phase: Phase,
    /// Failed connects in a row (the backoff's exponent).
    failures: u32,
    jitter: Jitter,
    read_timeout: Duration,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("last_event_id", &self.last_event_id)
            .field("phase", &self.phase)
            .field("queued", &self.ready.len())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// A stream from now on (nothing earlier is replayed), with `config`'s
    /// site token.
    pub fn new(config: &Config, now: Instant) -> Self {
        EventStream {
            config: config.clone(),
            last_event_id: None,
            parser: SseParser::default(),
            ready: VecDeque::new(),
            phase: Phase::Connect,
            failures: 0,
            jitter: Jitter::new(now_seed(now)),
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }

    /// Resumes after the event `id` (a cursor saved from
    /// [`last_event_id`](Self::last_event_id)): the service sends every
    /// later event it still holds.
    #[must_use]
    pub fn resume_from(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// How long an open stream may stay silent before it is reconnected
    /// ([`DEFAULT_READ_TIMEOUT`]).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The id of the last event delivered: save it to resume after a restart.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// Bytes of stream read so far.
    pub fn bytes_scanned(&self) -> u64 {
        self.parser.scanned()
    }

    /// What to do next.
    pub fn poll_output(&mut self, now: Instant) -> StreamOutput {
        if let Some(event) = self.ready.pop_front() {
            return StreamOutput::Event(event);
        }
        match &self.phase {
            // Polled again while connecting: the driver dropped that attempt
            // (a cancelled future); connect again.
            Phase::Connect | Phase::Connecting => {
                self.phase = Phase::Connecting;
                StreamOutput::Connect(self.connect_request(now))
            }
            Phase::Open { read_until } => StreamOutput::Read(*read_until),
            Phase::Waiting(until) => StreamOutput::Wait(*until),
            Phase::Stopped(error) => StreamOutput::Stopped(error.clone()),
        }
    }

    fn connect_request(&self, now: Instant) -> Transmit {
        let mut request = build_request(&self.config, Method::GET, EVENTS_PATH, true, None);
        let headers = request.headers_mut();
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        if let Some(id) = self.last_event_id.as_deref()
            && let Ok(value) = HeaderValue::from_str(id)
        {
            headers.insert("last-event-id", value);
        }
        Transmit {
            request,
            deadline: later(now, self.config.timeout()),
        }
    }

    /// The stream answered 200: read it. A fresh SSE reader starts (a
    /// half-read event of a dropped connection is not completed by another).
    pub fn handle_open(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Connecting) {
            self.parser = SseParser::default();
            self.failures = 0;
            self.phase = Phase::Open {
                read_until: later(now, self.read_timeout),
            };
            tracing::debug!(target: "lime", resume = ?self.last_event_id, "event stream open");
        }
    }

    /// A chunk of the open stream.
    pub fn handle_chunk(&mut self, chunk: &[u8], now: Instant) {
        if !matches!(self.phase, Phase::Open { .. }) {
            return;
        }
        self.phase = Phase::Open {
            read_until: later(now, self.read_timeout),
        };
        let mut events = Vec::new();
        self.parser.feed(chunk, &mut events);
        for event in events {
            // Only an event with an `id:` of its own moves the cursor or
            // can be a repeat; others carry the last id over.
            if event.own_id {
                if self.seen(event.id.as_deref()) {
                    continue;
                }
                self.last_event_id = event.id.clone();
            }
            if let Some(event) = SiteEvent::parse(event) {
                self.ready.push_back(event);
            }
        }
    }

    /// Whether `id` was delivered already: at or before the cursor when
    /// both are numbers (the service's ids), or equal to it otherwise.
    fn seen(&self, id: Option<&str>) -> bool {
        let (Some(id), Some(last)) = (id, self.last_event_id.as_deref()) else {
            return false;
        };
        match (id.parse::<u64>(), last.parse::<u64>()) {
            (Ok(id), Ok(last)) => id <= last,
            _ => id == last,
        }
    }

    /// The service refused the stream (a status other than 200): a site
    /// token it refuses stops the stream; 429 waits `Retry-After` (or the
    /// backoff); 408 and 5xx back off; any other answer stops it.
    pub fn handle_refused(&mut self, response: HttpResponse, now: Instant) {
        if !matches!(self.phase, Phase::Connecting) {
            return;
        }
        let status = response.status().as_u16();
        let error = match classify(&response, self.config.max_body_bytes()) {
            Err(error) => error,
            Ok(_) => Error::invalid_response(Some(status), "the event stream did not open"),
        };
        if error.is_retryable() {
            let wait = retry_after(&response);
            self.back_off(error, wait, now);
        } else {
            self.phase = Phase::Stopped(error);
        }
    }

    /// The connect failed, or the open stream ended or broke (`None`: it
    /// ended cleanly). Reconnects after a backoff; only a TLS failure stops.
    pub fn handle_disconnect(&mut self, error: Option<TransportError>, now: Instant) {
        let error = match error {
            Some(e) if e.kind() == TransportErrorKind::Tls => {
                self.phase = Phase::Stopped(Error::Transport(e));
                return;
            }
            Some(e) => Error::Transport(e),
            None => Error::Transport(TransportError::new(
                TransportErrorKind::ConnectionLost,
                "the event stream ended",
            )),
        };
        if matches!(self.phase, Phase::Connecting | Phase::Open { .. }) {
            self.back_off(error, None, now);
        }
    }

    /// A wait ended.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Waiting(until) = self.phase
            && now >= until
        {
            self.phase = Phase::Connect;
        }
    }

    fn back_off(&mut self, error: Error, wait: Option<Duration>, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        let wait = wait.unwrap_or_else(|| backoff(self.failures, &mut self.jitter));
        tracing::warn!(
            target: "lime::retry",
            step = "events",
            delay_ms = wait.as_millis() as u64,
            "reconnecting the event stream in {:.1} s: {}",
            wait.as_secs_f64(),
            crate::step::reason(&error)
        );
        self.phase = Phase::Waiting(later(now, wait));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> (EventStream, Instant) {
        let config = Config::builder()
            .site_token("st_test-token")
            .base_url("http://127.0.0.1:1/api/v1")
            .build_site()
            .unwrap();
        #[allow(clippy::disallowed_methods)] // a test's own clock start
        let now = Instant::now();
        (EventStream::new(&config, now), now)
    }

    fn frame(id: u32, kind: &str, request: &str) -> String {
        format!(
            "id: {id}\ndata: {{\"type\":\"{kind}\",\"login_request_id\":\"{request}\",\"agent_passport_jwt\":\"a.b.c\"}}\n\n"
        )
    }

    fn drain(stream: &mut EventStream, now: Instant) -> Vec<SiteEvent> {
        let mut out = Vec::new();
        while let StreamOutput::Event(event) = stream.poll_output(now) {
            out.push(event);
        }
        out
    }

    #[test]
    fn a_reconnect_resumes_after_the_last_event_and_drops_replayed_ones() {
        let (mut stream, now) = stream();
        let StreamOutput::Connect(first) = stream.poll_output(now) else {
            panic!()
        };
        assert!(first.request.headers().get("last-event-id").is_none());
        assert_eq!(first.request.headers()["x-site-token"], "st_test-token");
        stream.handle_open(now);
        stream.handle_chunk(
            (frame(1, "approved", "lr_a") + &frame(2, "expired", "lr_b")[..20]).as_bytes(),
            now,
        );
        assert_eq!(drain(&mut stream, now).len(), 1);
        // The connection drops halfway through event 2.
        stream.handle_disconnect(None, now);
        let StreamOutput::Wait(until) = stream.poll_output(now) else {
            panic!()
        };
        assert!(until > now && until <= now + Duration::from_secs(1));
        stream.handle_timeout(until);
        let StreamOutput::Connect(second) = stream.poll_output(until) else {
            panic!()
        };
        assert_eq!(second.request.headers()["last-event-id"], "1");
        stream.handle_open(until);
        // A server that replays event 1 anyway: it is not delivered twice.
        stream.handle_chunk(
            (frame(1, "approved", "lr_a") + &frame(2, "expired", "lr_b")).as_bytes(),
            until,
        );
        let events = drain(&mut stream, until);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].request_id(), Some("lr_b"));
        assert_eq!(stream.last_event_id(), Some("2"));
    }

    #[test]
    fn a_refused_site_token_stops_and_an_overloaded_service_is_retried() {
        let (mut stream, now) = stream();
        let refuse = |status: u16, body: &str| {
            http::Response::builder()
                .status(status)
                .header("retry-after", "7")
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        let _ = stream.poll_output(now);
        stream.handle_refused(
            refuse(
                429,
                r#"{"ok":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow"}}"#,
            ),
            now,
        );
        let StreamOutput::Wait(until) = stream.poll_output(now) else {
            panic!()
        };
        assert_eq!(
            until,
            now + Duration::from_secs(7),
            "Retry-After is honoured"
        );
        stream.handle_timeout(until);
        let _ = stream.poll_output(until);
        stream.handle_refused(
            refuse(
                401,
                r#"{"ok":false,"error":{"code":"SITE_TOKEN_INVALID","message":"no"}}"#,
            ),
            until,
        );
        let StreamOutput::Stopped(error) = stream.poll_output(until) else {
            panic!()
        };
        assert!(error.is_authentication(), "{error:?}");
    }

    #[test]
    fn a_silent_connection_is_read_with_a_deadline_and_the_backoff_is_capped() {
        let (mut stream, mut now) = stream();
        for _ in 0..40 {
            let StreamOutput::Connect(_) = stream.poll_output(now) else {
                panic!()
            };
            stream.handle_disconnect(
                Some(TransportError::new(TransportErrorKind::Connect, "refused")),
                now,
            );
            let StreamOutput::Wait(until) = stream.poll_output(now) else {
                panic!()
            };
            assert!(until - now <= crate::retry::MAX_BACKOFF + crate::retry::MAX_JITTER);
            now = until;
            stream.handle_timeout(now);
        }
        let _ = stream.poll_output(now);
        stream.handle_open(now);
        let StreamOutput::Read(deadline) = stream.poll_output(now) else {
            panic!()
        };
        assert_eq!(deadline, now + DEFAULT_READ_TIMEOUT);
        stream.handle_chunk(b": keepalive\n\n", now + Duration::from_secs(10));
        let StreamOutput::Read(later) = stream.poll_output(now) else {
            panic!()
        };
        assert_eq!(
            later,
            now + Duration::from_secs(10) + DEFAULT_READ_TIMEOUT,
            "any bytes keep it alive"
        );
    }

    #[test]
    fn the_passport_never_shows_in_debug() {
        let (mut stream, now) = stream();
        let _ = stream.poll_output(now);
        stream.handle_open(now);
        stream.handle_chunk(frame(5, "approved", "lr_x").as_bytes(), now);
        let event = drain(&mut stream, now).remove(0);
        assert!(!format!("{event:?}").contains("a.b.c"));
        let SiteEvent::Approved { passport, .. } = event else {
            panic!()
        };
        assert_eq!(passport.as_str(), "a.b.c");
    }
}
