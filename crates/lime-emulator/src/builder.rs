//! What an emulator is configured with: the builder's settings, their
//! defaults and limits, and its setters. Starting it is `emulator.rs`'s job.

use std::net::SocketAddr;
use std::time::Duration;

use lime_pow::Scheme;

use crate::state::{AgentAccount, SiteAccount, StoreLimits};

/// The largest request body accepted (64 KiB): larger gets 413.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;
/// Default time a client has to send a request's headers (and, for TLS, to
/// finish the handshake; and to send the body once the headers are in).
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on open connections; more are closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;
/// Default lifetime of the MCP access tokens the emulator mints.
pub const DEFAULT_MCP_TOKEN_TTL: Duration = Duration::from_secs(600);
/// The longest request TTL (ten years): a longer one is cut to it.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How the profile names the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerKey {
    /// `user_id`, like the current service.
    #[default]
    UserId,
    /// `owner_id`.
    OwnerId,
}

/// Configures and starts an [`Emulator`](crate::Emulator). Defaults: difficulty 15, scheme
/// `v1` named in `pow_scheme`, requests live 300 s, one agent and one site
/// with generated tokens, keepalive every 15 s, `127.0.0.1:0`.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    pub(crate) difficulty: i64,
    pub(crate) scheme: Scheme,
    pub(crate) hide_scheme: bool,
    pub(crate) ttl: Duration,
    pub(crate) agents: Vec<AgentAccount>,
    pub(crate) sites: Vec<SiteAccount>,
    pub(crate) keepalive: Duration,
    pub(crate) addr: SocketAddr,
    pub(crate) owner_key: OwnerKey,
    pub(crate) signing_key: SigningKey,
    pub(crate) tls: Option<crate::tls::TlsSource>,
    pub(crate) client_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) limits: StoreLimits,
    pub(crate) clock: crate::clock::Clock,
    pub(crate) mcp_token_ttl: Duration,
    pub(crate) default_agent_mcp_grant: bool,
    pub(crate) mcp_domain: Option<String>,
}

/// Where the passport signing key comes from. (`Debug` never shows a PEM.)
#[derive(Clone)]
pub(crate) enum SigningKey {
    /// One key generated per process, shared by its emulators.
    Generated,
    /// A PKCS#8 PEM key.
    Pem(String),
    /// The key kept at a path, made there when missing.
    CachedAt(std::path::PathBuf),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKey::Generated => f.write_str("Generated"),
            SigningKey::Pem(_) => f.write_str("Pem(..)"),
            SigningKey::CachedAt(path) => f.debug_tuple("CachedAt").field(path).finish(),
        }
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            difficulty: 15,
            scheme: Scheme::V1,
            hide_scheme: false,
            ttl: Duration::from_secs(300),
            agents: Vec::new(),
            sites: Vec::new(),
            keepalive: Duration::from_secs(15),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            owner_key: OwnerKey::UserId,
            signing_key: SigningKey::Generated,
            tls: None,
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            limits: StoreLimits::default(),
            clock: crate::clock::Clock::System,
            mcp_token_ttl: DEFAULT_MCP_TOKEN_TTL,
            default_agent_mcp_grant: true,
            mcp_domain: None,
        }
    }
}

impl EmulatorBuilder {
    /// PoW difficulty of new requests.
    pub fn difficulty(mut self, difficulty: i64) -> Self {
        self.difficulty = difficulty;
        self
    }
    /// The scheme the approve verifies.
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }
    /// Leaves `pow_scheme` out of request reads.
    pub fn hide_scheme(mut self, hide: bool) -> Self {
        self.hide_scheme = hide;
        self
    }
    /// How long new requests stay `PENDING` (at most [`MAX_TTL`]).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.min(MAX_TTL);
        self
    }
    /// How long a request is still readable after it expired (or would
    /// have); then it and its events are forgotten. Default 60 s.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.limits.grace = grace;
        self
    }
    /// Pending requests one site may have at once; creates beyond get 429
    /// `TOO_MANY_PENDING_REQUESTS`. Default 10,000.
    pub fn max_pending_per_site(mut self, max: usize) -> Self {
        self.limits.max_pending_per_site = max;
        self
    }
    /// Event streams one site may hold open at once; more get 429
    /// `TOO_MANY_STREAMS`. Default 64.
    pub fn max_streams_per_site(mut self, max: usize) -> Self {
        self.limits.max_streams_per_site = max;
        self
    }
    /// Time a client has for each phase: the TLS handshake, a request's
    /// headers, its body. Default 10 s ([`DEFAULT_CLIENT_TIMEOUT`]).
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = timeout;
        self
    }
    /// Reads the time from `clock` instead of the system: expiry, the grace
    /// period, passports' `iat`/`exp` and rate-limit windows follow it, so
    /// tests move time instead of sleeping (see
    /// [`Emulator::advance_clock`](crate::Emulator::advance_clock)).
    pub fn clock(mut self, clock: crate::ManualClock) -> Self {
        self.clock = crate::clock::Clock::Manual(clock);
        self
    }
    /// Open connections allowed at once; more are closed as they arrive.
    /// Default 1,024 ([`DEFAULT_MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }
    /// Adds an agent with this token (the first agent added replaces the generated one).
    pub fn agent(mut self, agent_id: &str, token: &str) -> Self {
        self.agents.push(AgentAccount {
            token: token.to_owned(),
            agent_id: agent_id.to_owned(),
            owner_id: format!("user_{agent_id}"),
            display_name: Some(format!("Agent {agent_id}")),
            avatar_url: None,
            description: Some("an emulated LIME agent".to_owned()),
            owner_kyc_level: Some(1),
            agent_reputation: Some(0),
            mcp_grant: true,
        });
        self
    }
    /// Adds an agent with this token that lacks the `oauth:mcp` grant (its
    /// mints answer 403 `access_denied`).
    pub fn agent_without_mcp_grant(self, agent_id: &str, token: &str) -> Self {
        let mut builder = self.agent(agent_id, token);
        if let Some(added) = builder.agents.last_mut() {
            added.mcp_grant = false;
        }
        builder
    }
    /// Also serves an MCP server for `domain` on a loopback port of its own
    /// (HTTPS with [`tls`](Self::tls), its certificate naming `domain` too;
    /// plain HTTP otherwise), accepting only MCP access tokens this emulator
    /// minted for `domain`. Clients reach it under that name by resolving
    /// it to [`Emulator::mcp_addr`](crate::Emulator::mcp_addr).
    pub fn mcp_domain(mut self, domain: impl Into<String>) -> Self {
        self.mcp_domain = Some(domain.into());
        self
    }
    /// Whether the generated agent (made when none was added) holds the
    /// `oauth:mcp` grant. Default true.
    pub fn mcp_grant(mut self, granted: bool) -> Self {
        self.default_agent_mcp_grant = granted;
        self
    }
    /// The lifetime of the MCP access tokens it mints (`expires_in`).
    /// Default 600 s ([`DEFAULT_MCP_TOKEN_TTL`]).
    pub fn mcp_token_ttl(mut self, ttl: Duration) -> Self {
        self.mcp_token_ttl = ttl;
        self
    }
    /// Adds an agent with a full profile.
    pub fn agent_account(mut self, account: AgentAccount) -> Self {
        self.agents.push(account);
        self
    }
    /// Adds a site with this token.
    pub fn site(mut self, site_id: &str, token: &str) -> Self {
        self.sites.push(SiteAccount {
            token: token.to_owned(),
            site_id: site_id.to_owned(),
        });
        self
    }
    /// Interval between keepalive events on event streams.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every;
        self
    }
    /// Where to listen (`127.0.0.1:0`: an ephemeral loopback port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }
    /// How the profile names the owner.
    pub fn owner_key(mut self, key: OwnerKey) -> Self {
        self.owner_key = key;
        self
    }
    /// Signs passports with this PKCS#8 PEM key instead of a generated one
    /// (the last of this and [`signing_key_cache`](Self::signing_key_cache)
    /// wins).
    pub fn signing_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.signing_key = SigningKey::Pem(pem.into());
        self
    }

    /// Signs with the key kept at `path` (PKCS#8 DER), made and saved there
    /// (owner-only) when the file is missing or holds no key: RSA
    /// generation takes 50-300 ms, most of a short-lived emulator's start.
    pub fn signing_key_cache(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.signing_key = SigningKey::CachedAt(path.into());
        self
    }

    /// Serves HTTPS: with [`TlsSource::Generated`](crate::TlsSource::Generated)
    /// a CA made at start signs a certificate for `localhost`/`127.0.0.1`,
    /// and [`Emulator::ca_pem`](crate::Emulator::ca_pem) gives the CA for clients to trust.
    pub fn tls(mut self, source: crate::tls::TlsSource) -> Self {
        self.tls = Some(source);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builder_s_debug_never_shows_its_signing_key() {
        let pem = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----";
        let shown = format!("{:?}", EmulatorBuilder::default().signing_key_pem(pem));
        assert!(shown.contains("Pem(..)"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        let cached = EmulatorBuilder::default().signing_key_cache("/tmp/key.der");
        assert!(format!("{cached:?}").contains("key.der"));
    }
}
