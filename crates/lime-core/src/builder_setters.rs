//! What every adapter's agent and builder offer alike, written once: the
//! constructors, and the setters that configure a [`ConfigBuilder`](crate::ConfigBuilder).

/// Expands, inside an adapter builder's `impl` block, to the setters that
/// configure its [`ConfigBuilder`](crate::ConfigBuilder): `token`,
/// `deadline`, `pow_timeout`, `pow_scheme`, `pow_threads`,
/// `mcp_token_skew`, `mcp_allow_http`, `mcp_allow_range`, and the
/// [`transport_setters!`](crate::transport_setters), all on the builder's [`ConfigSlot`](crate::ConfigSlot)
/// field named by the argument: `agent_builder_setters!(config)`.
///
/// For the adapter crates; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! agent_builder_setters {
    ($slot:ident) => {
        /// The agent token (else `LIME_AGENT_TOKEN`).
        #[must_use]
        pub fn token(self, token: impl Into<String>) -> Self {
            self.configure(|c| c.token(token))
        }
        /// A deadline for a whole login, from its start (none).
        #[must_use]
        pub fn deadline(self, deadline: ::std::time::Duration) -> Self {
            self.configure(|c| c.deadline(deadline))
        }
        /// PoW time budget (10 s).
        #[must_use]
        pub fn pow_timeout(self, timeout: ::std::time::Duration) -> Self {
            self.configure(|c| c.pow_timeout(timeout))
        }
        /// The PoW scheme (else `LIME_POW_SCHEME`, else `auto`).
        #[must_use]
        pub fn pow_scheme(self, scheme: $crate::PowSchemeChoice) -> Self {
            self.configure(|c| c.pow_scheme(scheme))
        }
        /// PoW solver threads (`0`, the default: one per core).
        #[must_use]
        pub fn pow_threads(self, threads: usize) -> Self {
            self.configure(|c| c.pow_threads(threads))
        }
        /// How long before an MCP access token expires a new one is minted
        /// (else `LIME_MCP_TOKEN_SKEW` in seconds, else 30 s).
        #[must_use]
        pub fn mcp_token_skew(self, skew: ::std::time::Duration) -> Self {
            self.configure(|c| c.mcp_token_skew(skew))
        }
        /// Opts in to plain `http://` MCP URLs (the MCP token travels
        /// unencrypted), apart from `allow_http`, which is the API's.
        #[must_use]
        pub fn mcp_allow_http(self, allow: bool) -> Self {
            self.configure(|c| c.mcp_allow_http(allow))
        }
        /// Lets MCP tokens travel to addresses in `cidr` (`10.20.0.0/16`)
        /// although they are not globally reachable (internal MCP servers);
        /// repeatable; a malformed range fails at `build`.
        #[must_use]
        pub fn mcp_allow_range(self, cidr: impl Into<String>) -> Self {
            self.configure(|c| c.mcp_allow_range(cidr))
        }
        $crate::transport_setters!($slot);
    };
}

/// Expands, inside an adapter's `impl LimeAgent` block, to its
/// constructors and accessor: `builder`, `from_env`, `from_token`, `new`
/// and `config`, given the builder type (with `build` and
/// `build_with(Config) -> Result<LimeAgent, Error>`) and the path of the
/// agent's `AgentState`: `agent_constructors!(LimeAgentBuilder, inner.state)`.
///
/// For the adapter crates; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! agent_constructors {
    ($builder:ident, $($state:ident).+) => {
        /// A builder; settings it leaves unset come from the environment,
        /// then defaults.
        pub fn builder() -> $builder {
            $builder::default()
        }

        /// An agent configured from `LIME_AGENT_TOKEN`, `LIME_API_BASE`,
        /// `LIME_POW_SCHEME`, the proxy variables and defaults.
        ///
        /// # Errors
        /// As [`Config::from_env`](lime_core::Config::from_env).
        pub fn from_env() -> Result<Self, $crate::Error> {
            Self::builder().build()
        }

        /// An agent with `token` and every other setting from the
        /// environment (`LIME_API_BASE`, …), then the defaults: the one-line
        /// start when the token comes from your own secret store.
        ///
        /// # Errors
        /// As [`from_env`](Self::from_env), for a malformed token or setting.
        pub fn from_token(token: impl Into<String>) -> Result<Self, $crate::Error> {
            Self::builder().token(token).build()
        }

        /// An agent for an already built [`Config`](lime_core::Config).
        ///
        /// # Errors
        /// [`Error::Config`](lime_core::Error::Config) when the transport's
        /// set-up (TLS roots, provider) fails.
        pub fn new(config: $crate::Config) -> Result<Self, $crate::Error> {
            $builder::default().build_with(config)
        }

        /// The configuration in use.
        pub fn config(&self) -> &$crate::Config {
            self.$($state).+.config()
        }
    };
}

/// Expands, inside an adapter's `impl LimeSite` block, to `builder`,
/// `from_env` and `config`, given the builder type and how the site reaches
/// its `Config`: `site_constructors!(LimeSiteBuilder, |site| site.keys.config())`.
///
/// For the adapter crates; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! site_constructors {
    ($builder:ident, |$site:ident| $config:expr) => {
        /// A builder with every default.
        pub fn builder() -> $builder {
            $builder::default()
        }

        /// A site from the environment: `LIME_SITE_TOKEN`, `LIME_API_BASE`,
        /// `LIME_CA_CERT`, `HTTPS_PROXY`.
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($builder), "::build`].")]
        pub fn from_env() -> Result<Self, $crate::Error> {
            Self::builder().build()
        }

        /// The configuration (its site token redacted in `Debug`).
        pub fn config(&self) -> &$crate::Config {
            let $site = self;
            $config
        }
    };
}

/// Expands, inside a site builder's `impl` block, to `token` (the site
/// token) and the transport setters, on its [`ConfigSlot`](crate::ConfigSlot):
/// `site_builder_setters!(config)`.
///
/// For the adapter crates; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! site_builder_setters {
    ($slot:ident) => {
        /// The site token (else `LIME_SITE_TOKEN`).
        #[must_use]
        pub fn token(self, token: impl Into<String>) -> Self {
            self.configure(|c| c.site_token(token))
        }
        $crate::transport_setters!($slot);
    };
}

/// The setters an agent's and a site's builder share: where the API is
/// and how to reach it (`base_url`, `allow_http`, `timeout`,
/// `max_retries`, `user_agent`, `max_body_bytes`, `https_proxy`,
/// `no_proxy`, `add_root_certificates_pem`, `os_roots`, `configure`,
/// `config`).
///
/// For the adapter crates; not a stable API.
#[doc(hidden)]
#[macro_export]
macro_rules! transport_setters {
    ($slot:ident) => {
        /// The API root, ending in `/api/v1` (else `LIME_API_BASE`, else
        /// `https://lime.pics/api/v1`).
        #[must_use]
        pub fn base_url(self, url: impl Into<String>) -> Self {
            self.configure(|c| c.base_url(url))
        }
        /// Opts in to plain `http://` off loopback: the token then travels
        /// unencrypted. Loopback hosts never need it.
        #[must_use]
        pub fn allow_http(self, allow: bool) -> Self {
            self.configure(|c| c.allow_http(allow))
        }
        /// Per-attempt timeout: connect, headers and the whole body (30 s).
        #[must_use]
        pub fn timeout(self, timeout: ::std::time::Duration) -> Self {
            self.configure(|c| c.timeout(timeout))
        }
        /// Retries per step (3).
        #[must_use]
        pub fn max_retries(self, retries: u32) -> Self {
            self.configure(|c| c.max_retries(retries))
        }
        /// The `User-Agent` header (`lime-rust/VERSION`).
        #[must_use]
        pub fn user_agent(self, user_agent: impl Into<String>) -> Self {
            self.configure(|c| c.user_agent(user_agent))
        }
        /// The largest response body accepted (1 MiB).
        #[must_use]
        pub fn max_body_bytes(self, bytes: usize) -> Self {
            self.configure(|c| c.max_body_bytes(bytes))
        }
        /// Sends HTTPS through this proxy (`http://[user:pass@]host:port`)
        /// with a CONNECT tunnel, except to hosts in `no_proxy`
        /// (comma-separated, as `NO_PROXY`). Without this, `HTTPS_PROXY`,
        /// `ALL_PROXY` and `NO_PROXY` are honoured; plain `http://` is never
        /// proxied. See [`ConfigBuilder::https_proxy`](lime_core::ConfigBuilder::https_proxy).
        #[must_use]
        pub fn https_proxy(self, url: impl Into<String>, no_proxy: impl Into<String>) -> Self {
            self.configure(|c| c.https_proxy(url, no_proxy))
        }
        /// Ignores proxy settings from the environment.
        #[must_use]
        pub fn no_proxy(self) -> Self {
            self.configure($crate::ConfigBuilder::no_proxy)
        }
        /// Also trusts the certificates in `pem` (a corporate or test CA),
        /// beside the bundled or OS roots; a PEM without a certificate
        /// fails at `build`.
        #[must_use]
        pub fn add_root_certificates_pem(self, pem: &[u8]) -> Self {
            self.configure(|c| c.add_root_certificates_pem(pem))
        }
        /// Trusts the operating system's root store too, or not. Default:
        /// on exactly with the `os-roots` feature; `true` without it fails
        /// at `build`.
        #[must_use]
        pub fn os_roots(self, enabled: bool) -> Self {
            self.configure(|c| c.os_roots(enabled))
        }
        /// Any other setting of [`ConfigBuilder`](lime_core::ConfigBuilder).
        #[must_use]
        pub fn configure(
            mut self,
            f: impl FnOnce($crate::ConfigBuilder) -> $crate::ConfigBuilder,
        ) -> Self {
            self.$slot.configure(f);
            self
        }
        /// Uses this already built configuration. Combined with any setter
        /// that configures it (token, base URL, timeouts, proxy…), `build`
        /// fails rather than drop those settings silently.
        #[must_use]
        pub fn config(mut self, config: $crate::Config) -> Self {
            self.$slot.use_config(config);
            self
        }
    };
}
