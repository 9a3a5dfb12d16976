//! For MCP servers: check the LIME MCP access tokens agents present, as
//! the official `lime-mcp-server-sdk` does, and a tower layer that puts the
//! check in front of any `http` service (rmcp's streamable-HTTP server, an
//! axum router). The rules are `lime_core::site::verify_mcp_token`'s.
//!
//! ```no_run
//! # async fn run() -> Result<(), lime_tokio::Error> {
//! use lime_tokio::mcp_server::McpTokenVerifier;
//! // LIME_API_BASE, LIME_EXPECTED_DOMAIN=tools.example.com
//! let verifier = McpTokenVerifier::from_env()?;
//! verifier.warm_up().await?; // fetch the key set before the first call
//! let layer = verifier.layer(); // tower::Layer: 401 unless the token is for this server
//! # let _ = layer; Ok(()) }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode, header};
use lime_core::mcp::McpTarget;
use lime_core::site::McpTokenRefused;
use lime_core::{Config, Error};

pub use lime_core::site::VerifiedMcpToken;

use crate::keys::Keys;
use crate::resolve::Resolver;
use crate::transport::api_client;

/// The environment variable naming the domain this MCP server serves.
pub const EXPECTED_DOMAIN_ENV: &str = "LIME_EXPECTED_DOMAIN";

/// Checks LIME MCP access tokens for one MCP server's domain: RS256 with a
/// key of LIME's key set (cached; fetched again for an unknown `kid`), `aud`
/// `mcp`, the issuer (the API's origin), the `domain` claim pinned to this
/// server's, a named agent (`sub`) and `exp`. Cheap to clone.
#[derive(Clone)]
pub struct McpTokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: Keys,
    domain: String,
}

impl std::fmt::Debug for McpTokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTokenVerifier")
            .field("domain", &self.inner.domain)
            .field("issuer", &self.inner.keys.config().base_url().origin())
            .finish_non_exhaustive()
    }
}

impl McpTokenVerifier {
    /// A builder; the domain falls back to `LIME_EXPECTED_DOMAIN`, the API
    /// to `LIME_API_BASE`.
    pub fn builder() -> McpTokenVerifierBuilder {
        McpTokenVerifierBuilder::default()
    }

    /// A verifier from the environment: `LIME_EXPECTED_DOMAIN`,
    /// `LIME_API_BASE`, `LIME_CA_CERT`, `HTTPS_PROXY`.
    ///
    /// # Errors
    /// As [`McpTokenVerifierBuilder::build`].
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// The domain tokens must be minted for (lower case).
    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    /// Fetches the key set now, so the first call does not wait for it.
    ///
    /// # Errors
    /// Transport and API errors of the fetch.
    pub async fn warm_up(&self) -> Result<(), Error> {
        self.inner.keys.fetch().await.map(drop)
    }

    /// Verifies one token (without `Bearer `).
    ///
    /// # Errors
    /// [`Error::McpTokenRefused`] with the rule it breaks; transport errors
    /// when the key set cannot be fetched.
    pub async fn verify(&self, token: &str) -> Result<VerifiedMcpToken, Error> {
        let keys = self.inner.keys.for_token(token).await?;
        let keys = keys.ok_or(Error::McpTokenRefused(McpTokenRefused::Malformed))?;
        let issuer = self.inner.keys.config().base_url().origin();
        lime_tls::verify_mcp_token(token, &keys, issuer, &self.inner.domain)
    }

    /// Verifies the `Authorization: Bearer …` token of `request`.
    ///
    /// # Errors
    /// As [`verify`](Self::verify); [`McpTokenRefused::Malformed`] when
    /// there is no bearer token.
    pub async fn verify_request<B>(&self, request: &Request<B>) -> Result<VerifiedMcpToken, Error> {
        match bearer(request.headers()) {
            Some(token) => self.verify(&token).await,
            None => Err(Error::McpTokenRefused(McpTokenRefused::Malformed)),
        }
    }

    /// The tower layer that checks every request's token before `S` sees
    /// it; see [`RequireMcpToken`].
    pub fn layer(&self) -> RequireMcpToken {
        RequireMcpToken {
            verifier: self.clone(),
        }
    }
}

/// Builds an [`McpTokenVerifier`]: the domain, and where LIME is (the same
/// transport settings as an agent's; no token is sent).
#[derive(Debug, Default)]
pub struct McpTokenVerifierBuilder {
    config: lime_core::ConfigBuilder,
    domain: Option<String>,
}

impl McpTokenVerifierBuilder {
    /// The domain this server serves (`tools.example.com`, or its URL);
    /// else `LIME_EXPECTED_DOMAIN`.
    #[must_use]
    pub fn expected_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Any transport setting of [`ConfigBuilder`](lime_core::ConfigBuilder):
    /// `base_url`, roots, proxy, timeout.
    #[must_use]
    pub fn configure(
        mut self,
        f: impl FnOnce(lime_core::ConfigBuilder) -> lime_core::ConfigBuilder,
    ) -> Self {
        self.config = f(self.config);
        self
    }

    /// Builds the verifier.
    ///
    /// # Errors
    /// [`Error::Config`] without a domain, for one the MCP domain policy
    /// refuses (an IP address, a reserved or local name), or as
    /// [`ConfigBuilder::build_public`](lime_core::ConfigBuilder::build_public).
    pub fn build(self) -> Result<McpTokenVerifier, Error> {
        let domain = self
            .domain
            .or_else(|| std::env::var(EXPECTED_DOMAIN_ENV).ok())
            .filter(|d| !d.trim().is_empty())
            .ok_or_else(|| {
                Error::config(format!(
                    "an MCP token verifier needs the domain it serves: expected_domain(…) or {EXPECTED_DOMAIN_ENV}"
                ))
            })?;
        let domain = McpTarget::parse(&domain, true)
            .map_err(|why| Error::config(format!("expected domain {domain:?}: {why}")))?
            .domain()
            .to_owned();
        let config: Config = self.config.build_public()?;
        let client = api_client(&config, &Resolver::pinned(HashMap::new(), None)?)?;
        Ok(McpTokenVerifier {
            inner: Arc::new(Inner {
                keys: Keys::new(config, client),
                domain,
            }),
        })
    }
}

/// A tower layer for MCP servers: a request without a valid LIME MCP access
/// token for this server is answered `401` with `WWW-Authenticate: Bearer
/// error="invalid_token"` (or `503` when LIME's key set cannot be fetched)
/// and never reaches the service; a valid one reaches it with the
/// [`VerifiedMcpToken`] (the calling agent) in its extensions.
#[derive(Debug, Clone)]
pub struct RequireMcpToken {
    verifier: McpTokenVerifier,
}

impl<S> tower_layer::Layer<S> for RequireMcpToken {
    type Service = RequireMcpTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireMcpTokenService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`RequireMcpToken`] makes.
#[derive(Debug, Clone)]
pub struct RequireMcpTokenService<S> {
    inner: S,
    verifier: McpTokenVerifier,
}

impl<S, B, R> tower_service::Service<Request<B>> for RequireMcpTokenService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
    R: Default,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service polled ready goes with this call; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let token = bearer(request.headers()).unwrap_or_default();
            match verifier.verify(&token).await {
                Ok(agent) => {
                    request.extensions_mut().insert(agent);
                    inner.call(request).await
                }
                Err(error) => Ok(refusal(&error)),
            }
        })
    }
}

/// The `Authorization: Bearer …` token, zeroed when dropped.
fn bearer(headers: &http::HeaderMap) -> Option<zeroize::Zeroizing<String>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| zeroize::Zeroizing::new(token.trim().to_owned()))
}

/// 401 with the RFC 6750 challenge for a refused token; 503 when the check
/// could not run (the key set unavailable), so clients do not mint anew.
fn refusal<R: Default>(error: &Error) -> Response<R> {
    let mut response = Response::new(R::default());
    if let Error::McpTokenRefused(why) = error {
        tracing::debug!(target: "lime", reason = %why, "MCP access token refused");
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{why}\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    } else {
        tracing::warn!(target: "lime", %error, "MCP access token not checked");
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    response
}
