//! The service's key set as a verifier keeps it: cached, fetched through
//! the crate's client when `lime_core::site::KeyCache` says so. One for a
//! site's passports, one for an MCP server's tokens.

use std::time::Instant;

use lime_core::site::{FetchKeys, KeyCache, KeySet, key_id};
use lime_core::{Config, Error};

use crate::agent::drive;
use crate::transport::HyperClient;

/// A cached key set and how to fetch it.
pub(crate) struct Keys {
    config: Config,
    client: HyperClient,
    cache: KeyCache,
}

impl Keys {
    pub(crate) fn new(config: Config, client: HyperClient) -> Self {
        Keys {
            config,
            client,
            cache: KeyCache::default(),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn client(&self) -> &HyperClient {
        &self.client
    }

    /// The key set to check `token` with (`None`: it names no key, so it is
    /// no signed token).
    pub(crate) async fn for_token(&self, token: &str) -> Result<Option<KeySet>, Error> {
        let Some(kid) = key_id(token) else {
            return Ok(None);
        };
        if let Some(keys) = self.cache.keys_for(&kid, Instant::now())? {
            return Ok(Some(keys));
        }
        self.fetch().await.map(Some)
    }

    /// Fetches the key set now and keeps it (or the failure) in the cache.
    pub(crate) async fn fetch(&self) -> Result<KeySet, Error> {
        let mut fetch = FetchKeys::new(&self.config, Instant::now());
        let fetched = drive(&self.client, self.config.max_body_bytes(), &mut fetch).await;
        self.cache.fetched(fetched, Instant::now())
    }
}
