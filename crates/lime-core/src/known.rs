//! This agent's id, shared by the agent and the flows it starts.

use std::sync::{Arc, Mutex};

/// This agent's id once any flow learned it, shared by the agent and the
/// flows it starts: a flow writes it the moment it reads it, so no driver
/// can lose it by forgetting a step (or by dropping the flow early).
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownAgentId(Arc<Mutex<Option<String>>>);

impl KnownAgentId {
    pub(crate) fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|id| id.clone())
    }

    /// Keeps `id` unless one is known (an agent's id never changes).
    pub(crate) fn learn(&self, id: &str) {
        if let Ok(mut known) = self.0.lock() {
            known.get_or_insert_with(|| id.to_owned());
        }
    }
}
