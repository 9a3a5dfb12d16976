//! Single flight's bookkeeping: one lock per domain, made on first use, so
//! concurrent callers for a domain share one mint and other domains never
//! wait. The lock type is the adapter's (an async mutex, a std mutex).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// A lock per domain.
///
/// ```
/// let locks: lime_core::mcp::DomainLocks<std::sync::Mutex<()>> = Default::default();
/// let a = locks.lock_for("a.example");
/// assert!(std::sync::Arc::ptr_eq(&a, &locks.lock_for("a.example")));
/// assert!(!std::sync::Arc::ptr_eq(&a, &locks.lock_for("b.example")));
/// ```
pub struct DomainLocks<L> {
    locks: Mutex<HashMap<String, Arc<L>>>,
}

impl<L> Default for DomainLocks<L> {
    fn default() -> Self {
        DomainLocks {
            locks: Mutex::new(HashMap::new()),
        }
    }
}

impl<L: Default> DomainLocks<L> {
    /// `domain`'s lock (the same one for every caller).
    pub fn lock_for(&self, domain: &str) -> Arc<L> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(domain.to_owned()).or_default())
    }
}

impl<L> fmt::Debug for DomainLocks<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domains = self.locks.lock().map_or(0, |l| l.len());
        f.debug_struct("DomainLocks")
            .field("domains", &domains)
            .finish()
    }
}
