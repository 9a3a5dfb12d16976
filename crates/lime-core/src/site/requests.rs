//! A site's one-request flows: create a login request, read one's status,
//! fetch the key set. Each is a [`OneRequest`] kind, so retries, waits and
//! the driver interface are the agent's.

use std::time::Instant;

use http::Method;
use time::OffsetDateTime;

use crate::envelope::classify;
use crate::fields::Fields;
use crate::io::build_request;
use crate::one_request::{Exchange, OneRequest, sealed};
use crate::retry::now_seed;
use crate::site::KeySet;
use crate::{Config, Error, HttpRequest, HttpResponse, RequestStatus, validate_request_id};

/// The create endpoint's path under the base URL.
pub(crate) const CREATE_PATH: &str = "/modules/agent-login/requests";
/// The key set's path under the base URL (public, not enveloped).
pub const JWKS_PATH: &str = "/core/.well-known/jwks.json";

/// A login request a site created: hand [`request_id`](Self::request_id)
/// to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRequest {
    /// Its id.
    pub request_id: String,
    /// `PENDING` when created.
    pub status: RequestStatus,
    /// When it expires, with the offset the server sent.
    pub expires_at: OffsetDateTime,
}

/// A login request as the public read shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestState {
    /// Its id.
    pub request_id: String,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it expires, when the server says.
    pub expires_at: Option<OffsetDateTime>,
    /// The agent that approved it, when one did.
    pub approved_agent_id: Option<String>,
}

impl RequestState {
    /// A request in `status`, with nothing else known (for tests and
    /// drivers of your own).
    pub fn new(request_id: impl Into<String>, status: RequestStatus) -> Self {
        RequestState {
            request_id: request_id.into(),
            status,
            expires_at: None,
            approved_agent_id: None,
        }
    }
}

/// Creates a login request (`POST /modules/agent-login/requests`) as a
/// state machine; drive it like [`Login`](crate::Login). A create is not
/// idempotent: it is sent again only when the answer says it was not
/// processed (408, 429, 503, or nothing was sent), so a retry never makes a
/// second request the site does not know of.
///
/// ```
/// use std::time::Instant;
/// use lime_core::{Config, drive::Output, site::CreateRequest};
/// let config = Config::builder().site_token("st_example").base_url("http://127.0.0.1:1/api/v1").build_site()?;
/// # #[allow(clippy::disallowed_methods)]
/// let mut create = CreateRequest::new(&config, Instant::now());
/// let Output::Send(transmit) = create.poll_output() else { unreachable!() };
/// assert_eq!(transmit.request.headers()["x-site-token"], "st_example");
/// # Ok::<(), lime_core::Error>(())
/// ```
pub type CreateRequest = OneRequest<Create>;

/// The create's [`Exchange`].
#[derive(Debug)]
pub struct Create(());

impl sealed::Sealed for Create {}

impl CreateRequest {
    /// A create starting at `now`.
    pub fn new(config: &Config, now: Instant) -> Self {
        Self::start(config, Create(()), now_seed(now), now)
    }
}

impl Exchange for Create {
    type Value = LoginRequest;
    const STEP: &'static str = "create";
    const IDEMPOTENT: bool = false;

    fn request(&self, config: &Config) -> HttpRequest {
        build_request(
            config,
            Method::POST,
            CREATE_PATH,
            true,
            Some(b"{}".to_vec()),
        )
    }

    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        _: Instant,
    ) -> Result<LoginRequest, Error> {
        let data = classify(response, config.max_body_bytes())?;
        let f = Fields::of(&data, response);
        let request_id = f.string("login_request_id")?;
        validate_request_id(&request_id).map_err(|e| {
            Error::invalid_response(
                Some(f.status),
                format!("field `login_request_id`: {}", e.message()),
            )
        })?;
        Ok(LoginRequest {
            request_id,
            status: RequestStatus::from_wire(&f.string("status")?),
            expires_at: f.time("expires_at")?,
        })
    }
}

/// Reads a login request's status with the public read (`GET
/// /auth/requests/{id}`, no token sent); drive it like
/// [`Login`](crate::Login). An unknown id is [`Error::Api`] with
/// `LOGIN_REQUEST_NOT_FOUND`.
pub type ReadRequest = OneRequest<StatusRead>;

/// The status read's [`Exchange`].
#[derive(Debug)]
pub struct StatusRead {
    path: String,
}

impl sealed::Sealed for StatusRead {}

impl ReadRequest {
    /// A read of `request_id` starting at `now`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed id (nothing is sent).
    pub fn new(config: &Config, request_id: &str, now: Instant) -> Result<Self, Error> {
        let id = validate_request_id(request_id)?;
        let path = format!("/auth/requests/{id}");
        Ok(Self::start(config, StatusRead { path }, now_seed(now), now))
    }
}

impl Exchange for StatusRead {
    type Value = RequestState;
    const STEP: &'static str = "read";

    fn request(&self, config: &Config) -> HttpRequest {
        build_request(config, Method::GET, &self.path, false, None)
    }

    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        _: Instant,
    ) -> Result<RequestState, Error> {
        let data = classify(response, config.max_body_bytes())?;
        let f = Fields::of(&data, response);
        let request_id = match f.opt_string("request_id")? {
            Some(id) => id,
            None => self.path.rsplit('/').next().unwrap_or_default().to_owned(),
        };
        Ok(RequestState {
            request_id,
            status: RequestStatus::from_wire(&f.string("status")?),
            expires_at: f
                .object
                .get("expires_at")
                .map(|_| f.time("expires_at"))
                .transpose()?,
            approved_agent_id: f.opt_string("approved_agent_id")?,
        })
    }
}

/// Fetches the API's key set (`GET /core/.well-known/jwks.json`, public,
/// not enveloped); drive it like [`Login`](crate::Login) and hand the keys
/// to [`KeyCache::fetched`](crate::site::KeyCache::fetched).
pub type FetchKeys = OneRequest<KeysRead>;

/// The key fetch's [`Exchange`].
#[derive(Debug)]
pub struct KeysRead(());

impl sealed::Sealed for KeysRead {}

impl FetchKeys {
    /// A fetch starting at `now`.
    pub fn new(config: &Config, now: Instant) -> Self {
        Self::start(config, KeysRead(()), now_seed(now), now)
    }
}

impl Exchange for KeysRead {
    type Value = KeySet;
    const STEP: &'static str = "keys";

    fn request(&self, config: &Config) -> HttpRequest {
        build_request(config, Method::GET, JWKS_PATH, false, None)
    }

    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        _: Instant,
    ) -> Result<KeySet, Error> {
        if !response.status().is_success() {
            // An error answer may still be an envelope; else it is the status.
            classify(response, config.max_body_bytes())?;
            return Err(Error::invalid_response(
                Some(response.status().as_u16()),
                "the key set answer is not a success",
            ));
        }
        KeySet::from_jwks(response.body())
    }
}

/// The binding create's path under the base URL.
pub(crate) const BINDING_CREATE_PATH: &str = "/modules/bindings/requests";
/// The binding code exchange's path under the base URL.
pub(crate) const BINDING_EXCHANGE_PATH: &str = "/modules/bindings/exchange";

/// A binding request a site created: keep [`binding_id`](Self::binding_id)
/// with the signed-in user, then send the browser to
/// [`connect_url`](Self::connect_url), where the user picks an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BindingRequest {
    /// Its id: a verified binding passport names it.
    pub binding_id: String,
    /// The hosted page to send the user to, as the service gave it.
    pub connect_url: String,
    /// `PENDING` when created.
    pub status: String,
    /// When it expires, with the offset the server sent.
    pub expires_at: OffsetDateTime,
}

/// Creates a binding request (`POST /modules/bindings/requests`) for the
/// callback `redirect_uri`; drive it like [`Login`](crate::Login). Not
/// idempotent, retried as [`CreateRequest`] is.
pub type CreateBinding = OneRequest<BindingCreate>;

/// The binding create's [`Exchange`].
#[derive(Debug)]
pub struct BindingCreate {
    body: Vec<u8>,
}

impl sealed::Sealed for BindingCreate {}

impl CreateBinding {
    /// A create for `redirect_uri` starting at `now`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] unless `redirect_uri` is an absolute
    /// `https://` URL (or `http://` to a loopback host) without user info
    /// or fragment: the service sends the user's browser there with a
    /// one-time code.
    pub fn new(config: &Config, redirect_uri: &str, now: Instant) -> Result<Self, Error> {
        let uri = checked_redirect(redirect_uri)?;
        let body = serde_json::json!({ "redirect_uri": uri })
            .to_string()
            .into_bytes();
        Ok(Self::start(
            config,
            BindingCreate { body },
            now_seed(now),
            now,
        ))
    }
}

fn checked_redirect(redirect_uri: &str) -> Result<&str, Error> {
    let refuse = |why: &str| Error::invalid_input("redirect_uri", why);
    let text = redirect_uri.trim();
    let uri: http::Uri = text.parse().map_err(|_| refuse("not a URL"))?;
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => {}
        Some("http") if loopback => {}
        _ => {
            return Err(refuse(
                "must be an absolute https:// URL (http:// only to loopback)",
            ));
        }
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) || text.contains('#') {
        return Err(refuse("must have no user info and no fragment"));
    }
    Ok(text)
}

impl Exchange for BindingCreate {
    type Value = BindingRequest;
    const STEP: &'static str = "create binding";
    const IDEMPOTENT: bool = false;

    fn request(&self, config: &Config) -> HttpRequest {
        let body = Some(self.body.clone());
        build_request(config, Method::POST, BINDING_CREATE_PATH, true, body)
    }

    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        _: Instant,
    ) -> Result<BindingRequest, Error> {
        let data = classify(response, config.max_body_bytes())?;
        let f = Fields::of(&data, response);
        Ok(BindingRequest {
            binding_id: f.string("binding_id")?,
            connect_url: f.string("connect_url")?,
            status: f.string("status")?,
            expires_at: f.time("expires_at")?,
        })
    }
}

/// Exchanges a binding's one-time code (`POST /modules/bindings/exchange`)
/// for its binding passport; verify that with
/// [`verify_binding_passport`](crate::site::verify_binding_passport). Not
/// idempotent (the code is spent), retried as [`CreateRequest`] is.
pub type ExchangeBinding = OneRequest<BindingExchange>;

/// The code exchange's [`Exchange`]. Its `Debug` never shows the code.
pub struct BindingExchange {
    body: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for BindingExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindingExchange(<code>)")
    }
}

impl sealed::Sealed for BindingExchange {}

impl ExchangeBinding {
    /// An exchange of `binding_code` starting at `now`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty code or one over 1 KiB.
    pub fn new(config: &Config, binding_code: &str, now: Instant) -> Result<Self, Error> {
        let code = binding_code.trim();
        if code.is_empty() || code.len() > 1024 {
            return Err(Error::invalid_input(
                "binding_code",
                "must be 1 to 1024 bytes",
            ));
        }
        let body = serde_json::json!({ "binding_code": code })
            .to_string()
            .into_bytes();
        let body = zeroize::Zeroizing::new(body);
        Ok(Self::start(
            config,
            BindingExchange { body },
            now_seed(now),
            now,
        ))
    }
}

impl Exchange for BindingExchange {
    type Value = crate::site::Passport;
    const STEP: &'static str = "exchange binding code";
    const IDEMPOTENT: bool = false;

    fn request(&self, config: &Config) -> HttpRequest {
        let body = Some(self.body.to_vec());
        build_request(config, Method::POST, BINDING_EXCHANGE_PATH, true, body)
    }

    fn read(
        &mut self,
        response: &HttpResponse,
        config: &Config,
        _: Instant,
    ) -> Result<crate::site::Passport, Error> {
        let data = classify(response, config.max_body_bytes())?;
        let f = Fields::of(&data, response);
        Ok(crate::site::Passport::new(f.string("passport")?))
    }
}
