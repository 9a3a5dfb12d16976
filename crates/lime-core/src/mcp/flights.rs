//! Single flight's bookkeeping: one lock per key (a domain for mints, a URL
//! for sessions), made on first use, so concurrent callers for one key take
//! turns and other keys never wait. The lock type is the adapter's (an async
//! mutex, a std mutex). Entries nobody holds are dropped as the map grows,
//! so it stays as large as the set of keys in use.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// Past this many entries, a new key first drops the locks nobody holds.
pub const KEYED_LOCKS_PRUNE_AT: usize = 64;

/// A lock per key.
///
/// ```
/// let locks: lime_core::mcp::KeyedLocks<std::sync::Mutex<()>> = Default::default();
/// let a = locks.lock_for("a.example");
/// assert!(std::sync::Arc::ptr_eq(&a, &locks.lock_for("a.example")));
/// assert!(!std::sync::Arc::ptr_eq(&a, &locks.lock_for("b.example")));
/// ```
pub struct KeyedLocks<L> {
    locks: Mutex<HashMap<String, Arc<L>>>,
}

impl<L> Default for KeyedLocks<L> {
    fn default() -> Self {
        KeyedLocks {
            locks: Mutex::new(HashMap::new()),
        }
    }
}

impl<L: Default> KeyedLocks<L> {
    /// `key`'s lock (the same one for every caller while anyone holds it).
    pub fn lock_for(&self, key: &str) -> Arc<L> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = locks.get(key) {
            return Arc::clone(lock);
        }
        if locks.len() >= KEYED_LOCKS_PRUNE_AT {
            // Only this map holds them: no caller is waiting or inside.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(locks.entry(key.to_owned()).or_default())
    }

    /// How many keys have a lock now.
    pub fn len(&self) -> usize {
        self.locks.lock().map_or(0, |l| l.len())
    }

    /// Whether no key has a lock.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<L> fmt::Debug for KeyedLocks<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.locks.lock().map_or(0, |l| l.len());
        f.debug_struct("KeyedLocks").field("keys", &keys).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_nobody_holds_are_dropped_once_the_map_is_full() {
        let locks: KeyedLocks<Mutex<()>> = KeyedLocks::default();
        let held = locks.lock_for("held.example");
        for n in 0..1000 {
            let _ = locks.lock_for(&format!("d{n}.example"));
        }
        assert!(
            locks.len() <= KEYED_LOCKS_PRUNE_AT + 1,
            "{} entries",
            locks.len()
        );
        assert!(Arc::ptr_eq(&held, &locks.lock_for("held.example")));
    }
}
