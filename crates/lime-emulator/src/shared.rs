//! What every connection and handler of a running emulator shares: its
//! settings, the store and fault plan behind their locks, the signing key.

use std::sync::{Arc, Mutex};

use crate::builder::EmulatorBuilder;
use crate::faults::FaultPlan;
use crate::passport::KeyRing;
use crate::state::Store;

/// What every connection and handler shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: EmulatorBuilder,
    pub(crate) origin: String,
    pub(crate) redirect_origin: String,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) store: Mutex<Store>,
    /// Agent bindings, apart from logins.
    pub(crate) bindings: Mutex<crate::binding_store::Bindings>,
    /// Shared with the MCP server, whose routes are in the same plan.
    pub(crate) faults: Arc<Mutex<FaultPlan>>,
    pub(crate) ca_pem: Option<String>,
    /// One permit per open API (and redirect-sink) connection.
    pub(crate) connections: Arc<tokio::sync::Semaphore>,
    /// One permit per open MCP connection: a budget of its own, so MCP
    /// clients holding every slot never starve the API.
    pub(crate) mcp_connections: Arc<tokio::sync::Semaphore>,
    /// The MCP server, when one was asked for, and where it listens.
    pub(crate) mcp: Option<(Arc<crate::mcp_server::McpEndpoint>, std::net::SocketAddr)>,
}

impl Shared {
    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The emulator's time: the system clock, or a test's.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.settings.clock.now()
    }
    pub(crate) fn bindings(&self) -> std::sync::MutexGuard<'_, crate::binding_store::Bindings> {
        self.bindings.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn faults(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}
