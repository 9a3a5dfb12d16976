//! The token rule as data: one token per domain, each with a generation
//! that grows on every mint; what a caller may reuse, and what makes it mint.
//! The adapters add only a lock per domain (single flight).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::McpAccessToken;

/// What a caller wants of a domain's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A token still fresh: the cached one while it lasts, else a new one.
    Fresh,
    /// A fresh token minted after the ticket of this generation: the one a
    /// server refused, or the one cached when a forced refresh was asked.
    /// Callers asking with one generation share one mint.
    NewerThan(u64),
}

/// A token together with its generation, so that whoever uses the token
/// can later ask for one [newer](Want::NewerThan) than exactly this one.
///
/// `Debug` never shows the JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpTicket {
    token: McpAccessToken,
    generation: u64,
}

impl McpTicket {
    /// The token.
    pub fn token(&self) -> &McpAccessToken {
        &self.token
    }

    /// Its generation: a number that grows with every mint of this agent.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The token, without its generation.
    pub fn into_token(self) -> McpAccessToken {
        self.token
    }
}

/// Tokens by domain, shared by an agent and the mints it starts (which
/// store what they minted themselves: no driver can forget to).
#[derive(Debug, Clone)]
pub(crate) struct TokenStore {
    inner: Arc<Mutex<Cache>>,
}

#[derive(Debug)]
struct Cache {
    skew: Duration,
    tickets: HashMap<String, McpTicket>,
    generations: u64,
}

impl TokenStore {
    /// An empty store whose tokens go stale `skew` before they expire.
    pub(crate) fn new(skew: Duration) -> Self {
        TokenStore {
            inner: Arc::new(Mutex::new(Cache {
                skew,
                tickets: HashMap::new(),
                generations: 0,
            })),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds plain data and every update is one statement, so a
        // panic elsewhere cannot leave it half-written.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A ticket `domain`'s caller may use at `now` without minting.
    pub(crate) fn usable(&self, domain: &str, want: Want, now: Instant) -> Option<McpTicket> {
        let cache = self.cache();
        let ticket = cache.tickets.get(domain)?;
        let newer = match want {
            Want::Fresh => true,
            Want::NewerThan(seen) => ticket.generation > seen,
        };
        (newer && is_fresh(&ticket.token, cache.skew, now)).then(|| ticket.clone())
    }

    /// The generation of `domain`'s cached token, if any.
    pub(crate) fn generation(&self, domain: &str) -> Option<u64> {
        self.cache().tickets.get(domain).map(|t| t.generation)
    }

    /// Keeps a newly minted token, replacing its domain's last one and
    /// forgetting every expired one (so the store stays as small as the set
    /// of domains in use); its ticket.
    pub(crate) fn keep(&self, token: McpAccessToken) -> McpTicket {
        let mut cache = self.cache();
        let now = token.minted_at();
        cache.tickets.retain(|_, t| t.token.expires_at() > now);
        cache.generations += 1;
        let ticket = McpTicket {
            token,
            generation: cache.generations,
        };
        cache
            .tickets
            .insert(ticket.token.domain().to_owned(), ticket.clone());
        ticket
    }
}

/// Whether `token` may still be handed out at `now`: for less than
/// `expires_in − skew` after it arrived, or, for a token no longer than the
/// skew, for half its lifetime (so even very short tokens get single flight
/// instead of a mint per call).
pub(crate) fn is_fresh(token: &McpAccessToken, skew: Duration, now: Instant) -> bool {
    let lifetime = token.expires_in();
    let good_for = if lifetime > skew {
        lifetime - skew
    } else {
        lifetime / 2
    };
    now.saturating_duration_since(token.minted_at()) < good_for
}
