//! The cache rule as data: one token per domain, fresh until
//! `expires_in − skew`, a generation that changes on every mint. The
//! adapters put it behind their own lock and add single flight.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::McpAccessToken;

/// Tokens by domain.
///
/// ```
/// use std::time::Duration;
/// use lime_core::mcp::TokenCache;
/// let cache = TokenCache::new(Duration::from_secs(30));
/// # #[allow(clippy::disallowed_methods)]
/// assert!(cache.fresh("mcp.example.com", std::time::Instant::now()).is_none());
/// ```
#[derive(Debug)]
pub struct TokenCache {
    skew: Duration,
    entries: HashMap<String, Entry>,
    generations: u64,
}

#[derive(Debug)]
struct Entry {
    token: McpAccessToken,
    generation: u64,
}

impl TokenCache {
    /// An empty cache whose tokens go stale `skew` before they expire.
    pub fn new(skew: Duration) -> Self {
        TokenCache {
            skew,
            entries: HashMap::new(),
            generations: 0,
        }
    }

    /// The refresh skew.
    pub fn skew(&self) -> Duration {
        self.skew
    }

    /// `domain`'s token when it is still fresh at `now`: less than
    /// `expires_in − skew` old (never, when `expires_in ≤ skew`).
    pub fn fresh(&self, domain: &str, now: Instant) -> Option<&McpAccessToken> {
        let entry = self.entries.get(domain)?;
        let good_for = entry.token.expires_in().checked_sub(self.skew)?;
        let age = now.saturating_duration_since(entry.token.minted_at());
        (age < good_for).then_some(&entry.token)
    }

    /// The generation of `domain`'s token (`None`: none cached); it changes
    /// on every mint.
    pub fn generation(&self, domain: &str) -> Option<u64> {
        self.entries.get(domain).map(|e| e.generation)
    }

    /// `domain`'s token whatever its age, with its generation.
    pub fn get(&self, domain: &str) -> Option<(&McpAccessToken, u64)> {
        self.entries.get(domain).map(|e| (&e.token, e.generation))
    }

    /// Keeps a newly minted token (replacing the domain's last one) and
    /// forgets tokens that have expired; its new generation.
    pub fn store(&mut self, token: McpAccessToken) -> u64 {
        let now = token.minted_at();
        self.entries.retain(|_, e| e.token.expires_at() > now);
        self.generations += 1;
        let generation = self.generations;
        self.entries
            .insert(token.domain().to_owned(), Entry { token, generation });
        generation
    }

    /// Forgets `domain`'s token (after a server refused it).
    pub fn invalidate(&mut self, domain: &str) {
        self.entries.remove(domain);
    }

    /// What a caller may use without minting. Without `force`: a fresh
    /// token. With `force`: a token minted after the caller asked (`seen`
    /// is the generation it saw then), so concurrent forced refreshes share
    /// one mint.
    pub fn usable(
        &self,
        domain: &str,
        now: Instant,
        force: bool,
        seen: Option<u64>,
    ) -> Option<&McpAccessToken> {
        if !force {
            return self.fresh(domain, now);
        }
        match self.get(domain) {
            Some((token, generation)) if Some(generation) != seen => Some(token),
            _ => None,
        }
    }
}
