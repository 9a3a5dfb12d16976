//! Client configuration: from arguments, else the environment, else defaults.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::Error;
use crate::base_url::{BASE_URL_ENV, BaseUrl};
use crate::proxy::{ProxyRoute, ProxyRules};
use crate::token::{AgentToken, SiteToken, TOKEN_ENV};

/// The environment variable that pins the proof-of-work scheme.
pub const POW_SCHEME_ENV: &str = "LIME_POW_SCHEME";
/// Default per-attempt HTTP timeout (connect, headers and the whole body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default retries per step (so a step makes at most 4 attempts).
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default time budget for one proof-of-work solve.
pub const DEFAULT_POW_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest response body accepted (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default `User-Agent`: this SDK and its version.
pub const DEFAULT_USER_AGENT: &str = concat!("lime-rust/", env!("CARGO_PKG_VERSION"));

/// Which proof-of-work scheme a login solves.
///
/// ```
/// use lime_core::PowSchemeChoice;
/// assert_eq!("auto".parse::<PowSchemeChoice>().unwrap(), PowSchemeChoice::Auto);
/// assert!("md5".parse::<PowSchemeChoice>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PowSchemeChoice {
    /// The scheme the server names in `pow_scheme`; when it names none,
    /// `v1`, with one `legacy` retry if the approve answers `INVALID_POW`.
    #[default]
    Auto,
    /// Always `legacy`; never falls back.
    Legacy,
    /// Always `v1`; never falls back.
    V1,
}

impl FromStr for PowSchemeChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(PowSchemeChoice::Auto),
            "legacy" => Ok(PowSchemeChoice::Legacy),
            "v1" => Ok(PowSchemeChoice::V1),
            other => Err(Error::Config {
                hint: None,
                reason: format!(
                    "unknown proof-of-work scheme {other:?} (expected auto, legacy or v1)"
                ),
            }),
        }
    }
}

impl fmt::Display for PowSchemeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowSchemeChoice::Auto => "auto",
            PowSchemeChoice::Legacy => "legacy",
            PowSchemeChoice::V1 => "v1",
        })
    }
}

/// Everything a login or profile read needs to know. Build it with
/// [`Config::builder`] or [`Config::from_env`].
///
/// | setting | builder | environment | default |
/// |---|---|---|---|
/// | agent token | [`token`](ConfigBuilder::token) | `LIME_AGENT_TOKEN` | required |
/// | base URL | [`base_url`](ConfigBuilder::base_url) | `LIME_API_BASE` | `https://lime.pics/api/v1` |
/// | plain HTTP off loopback | [`allow_http`](ConfigBuilder::allow_http) | | refused |
/// | per-attempt timeout | [`timeout`](ConfigBuilder::timeout) | | 30 s |
/// | retries per step | [`max_retries`](ConfigBuilder::max_retries) | | 3 |
/// | PoW time budget | [`pow_timeout`](ConfigBuilder::pow_timeout) | | 10 s |
/// | whole-login deadline | [`deadline`](ConfigBuilder::deadline) | | none |
/// | PoW scheme | [`pow_scheme`](ConfigBuilder::pow_scheme) | `LIME_POW_SCHEME` | `auto` |
/// | PoW threads | [`pow_threads`](ConfigBuilder::pow_threads) | | every core |
/// | user agent | [`user_agent`](ConfigBuilder::user_agent) | | `lime-rust/VERSION` |
/// | response body limit | [`max_body_bytes`](ConfigBuilder::max_body_bytes) | | 1 MiB |
/// | HTTPS proxy | [`https_proxy`](ConfigBuilder::https_proxy), [`no_proxy`](ConfigBuilder::no_proxy) | `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY` | none |
/// | extra trust roots | [`add_root_certificates_pem`](ConfigBuilder::add_root_certificates_pem) | | none |
/// | OS trust roots | [`os_roots`](ConfigBuilder::os_roots) | | on with the `os-roots` feature |
/// | MCP token refresh skew | [`mcp_token_skew`](ConfigBuilder::mcp_token_skew) | `LIME_MCP_TOKEN_SKEW` (seconds) | 30 s |
/// | plain HTTP MCP URLs | [`mcp_allow_http`](ConfigBuilder::mcp_allow_http) | | refused |
/// | MCP addresses not globally reachable | [`mcp_allow_range`](ConfigBuilder::mcp_allow_range) | | refused |
///
/// ```
/// use std::time::Duration;
/// use lime_core::Config;
/// let config = Config::builder()
///     .token("at_example-token")
///     .base_url("http://127.0.0.1:8080/api/v1")
///     .max_retries(5)
///     .deadline(Duration::from_secs(60))
///     .build()?;
/// assert_eq!(config.max_retries(), 5);
/// assert!(!format!("{config:?}").contains("example-token"));
/// # Ok::<(), lime_core::Error>(())
/// ```
///
/// Cheap to clone: every flow shares one copy (one copy of the token).
#[derive(Clone)]
pub struct Config {
    settings: std::sync::Arc<Settings>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.settings, f)
    }
}

/// What a [`Config`] holds, behind one `Arc` (its `Debug` is the config's).
mod settings {
    use super::*;

    #[derive(Debug)]
    pub(super) struct Config {
        pub(super) credential: Credential,
        pub(super) base_url: BaseUrl,
        pub(super) timeout: Duration,
        pub(super) max_retries: u32,
        pub(super) pow_timeout: Duration,
        pub(super) deadline: Option<Duration>,
        pub(super) pow_scheme: PowSchemeChoice,
        pub(super) pow_threads: usize,
        pub(super) user_agent: String,
        pub(super) max_body_bytes: usize,
        pub(super) proxy: ProxyRules,
        pub(super) proxy_source: ProxySource,
        pub(super) extra_roots: Vec<CertificateDer<'static>>,
        /// A PEM file of extra roots ([`CA_CERT_ENV`](super::CA_CERT_ENV)).
        pub(super) ca_cert_file: Option<std::path::PathBuf>,
        pub(super) os_roots: Option<bool>,
        pub(super) allow_http: bool,
        pub(super) mcp_token_skew: Duration,
        pub(super) mcp_allow_http: bool,
        pub(super) mcp_addresses: crate::mcp::AddressPolicy,
    }
}
use settings::Config as Settings;

/// The one secret a [`Config`] sends: an agent's, a site's, or none (a
/// reader of public endpoints).
#[derive(Debug)]
enum Credential {
    Agent(AgentToken),
    Site(SiteToken),
    Public,
}

/// The default MCP token refresh skew: a token is minted anew 30 s before
/// it expires.
pub const DEFAULT_MCP_TOKEN_SKEW: Duration = Duration::from_secs(30);
/// The environment variable that sets the MCP token refresh skew, in seconds.
pub const MCP_TOKEN_SKEW_ENV: &str = "LIME_MCP_TOKEN_SKEW";

/// The environment variable naming a PEM file of extra trusted roots (a
/// corporate or test CA), trusted beside the roots added with
/// [`ConfigBuilder::add_root_certificates_pem`]. [`ConfigBuilder::build`]
/// keeps the path ([`Config::ca_cert_file`]); the adapters read the file
/// when they set up TLS (lime-core does no I/O).
pub const CA_CERT_ENV: &str = "LIME_CA_CERT";

/// The largest PEM file [`CA_CERT_ENV`] may name (1 MiB: thousands of
/// certificates).
pub const MAX_CA_CERT_BYTES: u64 = 1 << 20;

/// Where an agent's proxy rules come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxySource {
    /// `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `all_proxy` and
    /// `NO_PROXY`, read when the configuration is built.
    #[default]
    Environment,
    /// A proxy given to [`ConfigBuilder::https_proxy`].
    Explicit,
    /// Always direct ([`ConfigBuilder::no_proxy`]).
    Off,
}

impl Config {
    /// A builder with every default; the token and base URL fall back to
    /// the environment at [`build`](ConfigBuilder::build).
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Everything from the environment and defaults.
    ///
    /// # Errors
    /// As [`ConfigBuilder::build`].
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// The agent token: `None` in a site's configuration
    /// ([`ConfigBuilder::build_site`]).
    pub fn token(&self) -> Option<&AgentToken> {
        match &self.settings.credential {
            Credential::Agent(token) => Some(token),
            Credential::Site(_) | Credential::Public => None,
        }
    }
    /// The site token: `Some` only in a site's configuration
    /// ([`ConfigBuilder::build_site`]).
    pub fn site_token(&self) -> Option<&SiteToken> {
        match &self.settings.credential {
            Credential::Site(token) => Some(token),
            Credential::Agent(_) | Credential::Public => None,
        }
    }
    /// The credential's header and value (marked sensitive), if any.
    pub(crate) fn credential_header(&self) -> Option<(&'static str, http::HeaderValue)> {
        match &self.settings.credential {
            Credential::Agent(token) => Some(token.header()),
            Credential::Site(token) => Some(token.header()),
            Credential::Public => None,
        }
    }
    /// The API root.
    pub fn base_url(&self) -> &BaseUrl {
        &self.settings.base_url
    }
    /// Per-attempt HTTP timeout.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }
    /// Retries per step.
    pub fn max_retries(&self) -> u32 {
        self.settings.max_retries
    }
    /// PoW time budget.
    pub fn pow_timeout(&self) -> Duration {
        self.settings.pow_timeout
    }
    /// The whole-login deadline, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.settings.deadline
    }
    /// The PoW scheme choice.
    pub fn pow_scheme(&self) -> PowSchemeChoice {
        self.settings.pow_scheme
    }
    /// PoW threads (`0`: every core).
    pub fn pow_threads(&self) -> usize {
        self.settings.pow_threads
    }
    /// The `User-Agent` sent.
    pub fn user_agent(&self) -> &str {
        &self.settings.user_agent
    }
    /// The largest response body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.settings.max_body_bytes
    }
    /// The proxy rules, for targets other than the API (the API's own
    /// route is [`proxy_route`](Self::proxy_route)).
    pub fn proxy_rules(&self) -> &ProxyRules {
        &self.settings.proxy
    }
    /// Where the proxy rules came from.
    pub fn proxy_source(&self) -> &ProxySource {
        &self.settings.proxy_source
    }
    /// Trust roots added beside the bundled or OS ones.
    pub fn extra_roots(&self) -> &[CertificateDer<'static>] {
        &self.settings.extra_roots
    }
    /// The PEM file of extra roots `LIME_CA_CERT` named, read when an
    /// adapter sets up TLS.
    pub fn ca_cert_file(&self) -> Option<&std::path::Path> {
        self.settings.ca_cert_file.as_deref()
    }
    /// Whether the OS trust store was asked for (`None`: the default, on
    /// exactly when the adapter has its `os-roots` feature).
    pub fn os_roots(&self) -> Option<bool> {
        self.settings.os_roots
    }
    /// Whether plain `http://` off loopback was opted in to (for the API and
    /// for MCP URLs).
    pub fn allow_http(&self) -> bool {
        self.settings.allow_http
    }
    /// How long before an MCP access token expires a new one is minted.
    pub fn mcp_token_skew(&self) -> Duration {
        self.settings.mcp_token_skew
    }

    /// Whether plain `http://` MCP URLs are allowed.
    pub fn mcp_allow_http(&self) -> bool {
        self.settings.mcp_allow_http
    }

    /// Which addresses an MCP token may travel to.
    pub fn mcp_addresses(&self) -> &crate::mcp::AddressPolicy {
        &self.settings.mcp_addresses
    }
    /// How connections to the API go: directly, or through a CONNECT tunnel.
    /// A plain `http://` base URL is always direct.
    pub fn proxy_route(&self) -> ProxyRoute<'_> {
        self.settings.proxy.route(
            self.settings.base_url.is_https(),
            self.settings.base_url.host(),
        )
    }
}

/// What the builder was told about proxies.
#[derive(Clone, Default)]
enum ProxyChoice {
    #[default]
    Environment,
    Explicit {
        url: zeroize::Zeroizing<String>,
        no_proxy: String,
    },
    Off,
}

/// Where the builder reads "environment variables" from.
type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Builds a [`Config`]; see its table for every setting and default.
#[derive(Default)]
pub struct ConfigBuilder {
    token: Option<zeroize::Zeroizing<String>>,
    site_token: Option<zeroize::Zeroizing<String>>,
    base_url: Option<String>,
    allow_http: bool,
    timeout: Option<Duration>,
    max_retries: Option<u32>,
    pow_timeout: Option<Duration>,
    deadline: Option<Duration>,
    pow_scheme: Option<PowSchemeChoice>,
    pow_threads: usize,
    user_agent: Option<String>,
    max_body_bytes: Option<usize>,
    proxy: ProxyChoice,
    extra_roots: Vec<CertificateDer<'static>>,
    bad_root: Option<String>,
    os_roots: Option<bool>,
    mcp_token_skew: Option<Duration>,
    mcp_allow_http: bool,
    mcp_ranges: Vec<String>,
    env: Option<Box<EnvLookup>>,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "site_token",
                &self.site_token.as_ref().map(|_| "<redacted>"),
            )
            .field("base_url", &self.base_url)
            .field("allow_http", &self.allow_http)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("pow_timeout", &self.pow_timeout)
            .field("deadline", &self.deadline)
            .field("pow_scheme", &self.pow_scheme)
            .field(
                "proxy",
                &match &self.proxy {
                    ProxyChoice::Environment => "environment",
                    ProxyChoice::Explicit { .. } => "explicit (redacted)",
                    ProxyChoice::Off => "off",
                },
            )
            .field("extra_roots", &self.extra_roots.len())
            .field("os_roots", &self.os_roots)
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    /// The agent token (else `LIME_AGENT_TOKEN`).
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(zeroize::Zeroizing::new(token.into()));
        self
    }
    /// The site token (else `LIME_SITE_TOKEN`), for
    /// [`build_site`](Self::build_site).
    #[must_use]
    pub fn site_token(mut self, token: impl Into<String>) -> Self {
        self.site_token = Some(zeroize::Zeroizing::new(token.into()));
        self
    }
    /// The API root (else `LIME_API_BASE`, else the public service).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    /// Opts in to plain `http://` off loopback (the token travels
    /// unencrypted). Loopback (`127.0.0.1`, `[::1]`, `localhost`) never needs it.
    #[must_use]
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }
    /// Per-attempt timeout: connect, headers and the whole body.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Retries per step (connection failures, timeouts, 408/429/5xx).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }
    /// PoW time budget per solve.
    #[must_use]
    pub fn pow_timeout(mut self, timeout: Duration) -> Self {
        self.pow_timeout = Some(timeout);
        self
    }
    /// A deadline for a whole login, counted from its start: no attempt, wait
    /// or solve runs past it.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
    /// The PoW scheme (else `LIME_POW_SCHEME`, else `auto`).
    #[must_use]
    pub fn pow_scheme(mut self, scheme: PowSchemeChoice) -> Self {
        self.pow_scheme = Some(scheme);
        self
    }
    /// Threads for the PoW solver (`0`, the default: every core).
    #[must_use]
    pub fn pow_threads(mut self, threads: usize) -> Self {
        self.pow_threads = threads;
        self
    }
    /// The `User-Agent` header.
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }
    /// The largest response body accepted.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = Some(bytes);
        self
    }
    /// Sends HTTPS through this `http://[user:pass@]host:port` proxy with a
    /// CONNECT tunnel, except to hosts in `no_proxy` (comma-separated, read
    /// as `NO_PROXY` is). Without it, `HTTPS_PROXY`, `ALL_PROXY` and
    /// `NO_PROXY` are honoured. Plain `http://` never goes through a proxy.
    #[must_use]
    pub fn https_proxy(mut self, url: impl Into<String>, no_proxy: impl Into<String>) -> Self {
        self.proxy = ProxyChoice::Explicit {
            url: zeroize::Zeroizing::new(url.into()),
            no_proxy: no_proxy.into(),
        };
        self
    }
    /// Ignores proxy settings from the environment: always connect directly.
    #[must_use]
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyChoice::Off;
        self
    }
    /// Also trusts the certificates in `pem` (a corporate or test CA),
    /// beside the bundled or OS roots. A PEM without a certificate makes
    /// [`build`](Self::build) fail.
    #[must_use]
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        match crate::roots::certificates_from_pem(pem) {
            Ok(certificates) => self.extra_roots.extend(certificates),
            Err(reason) => self.bad_root = Some(reason),
        }
        self
    }
    /// Trusts the operating system's root store too (`true`) or not
    /// (`false`). Default: on exactly when the adapter is built with its
    /// `os-roots` feature; asking for it without the feature fails at build.
    #[must_use]
    pub fn os_roots(mut self, enabled: bool) -> Self {
        self.os_roots = Some(enabled);
        self
    }
    /// How long before an MCP access token expires a new one is minted
    /// (else `LIME_MCP_TOKEN_SKEW` in seconds, else 30 s).
    #[must_use]
    pub fn mcp_token_skew(mut self, skew: Duration) -> Self {
        self.mcp_token_skew = Some(skew);
        self
    }
    /// Opts in to plain `http://` MCP URLs (the MCP token travels
    /// unencrypted), apart from [`allow_http`](Self::allow_http), which is
    /// the API's.
    #[must_use]
    pub fn mcp_allow_http(mut self, allow: bool) -> Self {
        self.mcp_allow_http = allow;
        self
    }
    /// Lets MCP tokens travel to addresses in `cidr` (`10.20.0.0/16`,
    /// `fd00::/8`) although they are not globally reachable: for internal
    /// MCP servers. Repeatable; none by default. A malformed range fails
    /// at `build`.
    #[must_use]
    pub fn mcp_allow_range(mut self, cidr: impl Into<String>) -> Self {
        self.mcp_ranges.push(cidr.into());
        self
    }
    /// Reads "environment variables" from `lookup` instead of the process
    /// environment (for tests and embedders with their own settings store).
    #[must_use]
    pub fn env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Some(Box::new(lookup));
        self
    }

    /// Validates everything and builds an agent's [`Config`].
    ///
    /// # Errors
    /// [`Error::Authentication`] when no token is given anywhere;
    /// [`Error::Config`] for a malformed token, base URL, scheme, user agent
    /// or a zero timeout or body limit.
    pub fn build(self) -> Result<Config, Error> {
        let token = match &self.token {
            Some(token) => AgentToken::new(token)?,
            None => AgentToken::new(&zeroize::Zeroizing::new(
                self.env(TOKEN_ENV).unwrap_or_default(),
            ))?,
        };
        self.build_with(Credential::Agent(token))
    }

    /// Validates everything and builds a site's [`Config`]: the one secret
    /// it sends is the site token ([`site_token`](Self::site_token), else
    /// `LIME_SITE_TOKEN`); an agent token given beside it is not kept.
    ///
    /// ```
    /// let config = lime_core::Config::builder().site_token("st_example").build_site()?;
    /// assert!(config.site_token().is_some() && config.token().is_none());
    /// # Ok::<(), lime_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`build`](Self::build), for the site token.
    pub fn build_site(self) -> Result<Config, Error> {
        let token = match &self.site_token {
            Some(token) => SiteToken::new(token)?,
            None => SiteToken::new(&zeroize::Zeroizing::new(
                self.env(crate::token::SITE_TOKEN_ENV).unwrap_or_default(),
            ))?,
        };
        self.build_with(Credential::Site(token))
    }

    /// Validates everything and builds a [`Config`] that sends no token: for
    /// reading public endpoints only (an MCP server's token verifier
    /// fetching the key set). Tokens given to the builder are not kept.
    ///
    /// # Errors
    /// As [`build`](Self::build), but never for a missing token.
    pub fn build_public(self) -> Result<Config, Error> {
        self.build_with(Credential::Public)
    }

    fn env(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(lookup) => lookup(name),
            None => std::env::var(name).ok(),
        }
    }

    fn build_with(mut self, credential: Credential) -> Result<Config, Error> {
        let lookup = self.env.take();
        let env = |name: &str| match &lookup {
            Some(lookup) => lookup(name),
            None => std::env::var(name).ok(),
        };
        let base_url = match self.base_url.clone().or_else(|| env(BASE_URL_ENV)) {
            Some(url) if !url.trim().is_empty() => BaseUrl::parse(&url, self.allow_http)?,
            _ => BaseUrl::default(),
        };
        let pow_scheme = match self.pow_scheme {
            Some(scheme) => scheme,
            None => match env(POW_SCHEME_ENV) {
                Some(s) if !s.trim().is_empty() => s.parse()?,
                _ => PowSchemeChoice::Auto,
            },
        };
        let user_agent = self
            .user_agent
            .unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned());
        if http::HeaderValue::from_str(&user_agent).is_err() {
            return Err(Error::Config {
                hint: None,
                reason: "the user agent has a character not allowed in an HTTP header".to_owned(),
            });
        }
        if let Some(reason) = &self.bad_root {
            return Err(Error::config(format!(
                "bad root certificate (add_root_certificates_pem): {reason}"
            )));
        }
        let ca_cert_file = env(CA_CERT_ENV)
            .filter(|p| !p.trim().is_empty())
            .map(|p| std::path::PathBuf::from(p.trim()));
        let mcp_token_skew = match self.mcp_token_skew {
            Some(skew) => skew,
            None => match env(MCP_TOKEN_SKEW_ENV) {
                Some(s) if !s.trim().is_empty() => parse_seconds(&s).ok_or_else(|| {
                    Error::config(format!(
                        "{} must be a number of seconds from 0 to 86400, not {s:?}",
                        MCP_TOKEN_SKEW_ENV
                    ))
                })?,
                _ => DEFAULT_MCP_TOKEN_SKEW,
            },
        };
        let ranges = self
            .mcp_ranges
            .iter()
            .map(|cidr| {
                cidr.trim().parse::<ipnet::IpNet>().map_err(|_| {
                    Error::config(format!(
                        "mcp_allow_range: {cidr:?} is not a CIDR range such as 10.0.0.0/8"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let pow_timeout = self.pow_timeout.unwrap_or(DEFAULT_POW_TIMEOUT);
        let max_body_bytes = self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        for (name, zero) in [
            ("timeout", timeout.is_zero()),
            ("pow_timeout", pow_timeout.is_zero()),
            ("max_body_bytes", max_body_bytes == 0),
        ] {
            if zero {
                return Err(Error::Config {
                    hint: None,
                    reason: format!("{name} must be greater than zero"),
                });
            }
        }
        // Plain http:// is never proxied, so its environment is not even read:
        // a SOCKS variable meant for other tools must not break a loopback run.
        let (proxy, proxy_source) = match &self.proxy {
            ProxyChoice::Off => (ProxyRules::direct(), ProxySource::Off),
            ProxyChoice::Explicit { url, no_proxy } => {
                (ProxyRules::explicit(url, no_proxy)?, ProxySource::Explicit)
            }
            ProxyChoice::Environment if base_url.is_https() => {
                (ProxyRules::from_env(env)?, ProxySource::Environment)
            }
            ProxyChoice::Environment => (ProxyRules::direct(), ProxySource::Environment),
        };
        Ok(Config {
            settings: std::sync::Arc::new(Settings {
                proxy,
                proxy_source,
                credential,
                base_url,
                timeout,
                max_retries: self.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
                pow_timeout,
                deadline: self.deadline,
                pow_scheme,
                pow_threads: self.pow_threads,
                user_agent,
                max_body_bytes,
                extra_roots: self.extra_roots,
                ca_cert_file,
                os_roots: self.os_roots,
                allow_http: self.allow_http,
                mcp_token_skew,
                mcp_allow_http: self.mcp_allow_http,
                mcp_addresses: crate::mcp::AddressPolicy::new(&ranges),
            }),
        })
    }
}

/// Seconds from an environment variable: a finite number from 0 to a day.
fn parse_seconds(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().parse().ok()?;
    (seconds.is_finite() && (0.0..=86_400.0).contains(&seconds))
        .then(|| Duration::from_secs_f64(seconds))
}

/// What an adapter's builder holds of its configuration: settings made one
/// by one, or a [`Config`] built elsewhere, never both silently. The
/// builders of `lime-tokio` and `lime-blocking` each hold one and hand it
/// to [`agent_builder_setters!`](crate::agent_builder_setters).
///
/// ```
/// use lime_core::{Config, ConfigSlot};
/// let mut slot = ConfigSlot::default();
/// slot.configure(|c| c.token("at_example").base_url("http://127.0.0.1:1/api/v1"));
/// assert_eq!(slot.build()?.base_url().as_str(), "http://127.0.0.1:1/api/v1");
/// let mut both = ConfigSlot::default();
/// both.use_config(Config::builder().token("at_example").build()?);
/// both.configure(|c| c.max_retries(1));
/// assert!(both.build().is_err(), "a setting beside a built Config is refused");
/// # Ok::<(), lime_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ConfigSlot {
    settings: ConfigBuilder,
    /// Whether a setting was made (an error beside `built`).
    configured: bool,
    built: Option<Config>,
}

impl ConfigSlot {
    /// Applies `f` to the settings.
    pub fn configure(&mut self, f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) {
        self.settings = f(std::mem::take(&mut self.settings));
        self.configured = true;
    }

    /// Uses `config`, built elsewhere, instead of settings.
    pub fn use_config(&mut self, config: Config) {
        self.built = Some(config);
    }

    /// The configuration: the built one, or the settings built.
    ///
    /// # Errors
    /// [`Error::Config`] for a built `Config` beside settings (they would
    /// be dropped silently); else as [`ConfigBuilder::build`].
    pub fn build(&mut self) -> Result<Config, Error> {
        let config = self.take(ConfigBuilder::build)?;
        match config.token() {
            Some(_) => Ok(config),
            None => Err(Error::config(
                "an agent needs an agent token; this Config was built for a site (build_site)",
            )),
        }
    }

    /// As [`build`](Self::build), for a site ([`ConfigBuilder::build_site`]).
    ///
    /// # Errors
    /// As [`build`](Self::build), and for a built `Config` that is an agent's.
    pub fn build_site(&mut self) -> Result<Config, Error> {
        let config = self.take(ConfigBuilder::build_site)?;
        match config.site_token() {
            Some(_) => Ok(config),
            None => Err(Error::config(
                "a site needs a site token; this Config was built for an agent (use build_site)",
            )),
        }
    }

    fn take(&mut self, build: fn(ConfigBuilder) -> Result<Config, Error>) -> Result<Config, Error> {
        let settings = std::mem::take(&mut self.settings);
        match self.built.take() {
            Some(_) if self.configured => Err(Error::config(
                "the builder got both a built Config (config(…)) and settings for one \
                 (token, base_url, timeouts, proxy…); set them on the Config, or leave \
                 config(…) out",
            )),
            Some(config) => Ok(config),
            None => build(settings),
        }
    }
}
