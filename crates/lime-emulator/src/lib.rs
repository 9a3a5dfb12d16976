#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod agent_api;
mod auth;
mod binding;
mod binding_store;
mod body;
mod builder;
mod clock;
mod dispatch;
mod emulator;
pub mod faults;
mod ids;
mod mcp_server;
mod mcp_token;
mod network;
mod oauth_api;
pub mod owner_only;
pub mod passport;
mod reply;
mod route;
mod shared;
mod site_api;
pub mod sse;
mod state;
mod tls;

pub use binding_store::{BINDING_CODE_TTL, BINDING_TTL, MAX_BINDINGS};
pub use builder::{
    DEFAULT_CLIENT_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MCP_TOKEN_TTL, EmulatorBuilder,
    MAX_REQUEST_BODY, MAX_TTL, OwnerKey,
};
pub use clock::ManualClock;
pub use emulator::{BlockingEmulator, Emulator, StartError};
pub use faults::{Fault, RawBody};
pub use mcp_server::{MAX_MCP_SESSIONS, McpCounters};
pub use mcp_token::MCP_AUDIENCE;
pub use passport::{IssuerKey, PassportError};
pub use route::{API_PREFIX, Route};
pub use state::{AgentAccount, Counters, SiteAccount};
pub use tls::{TlsError, TlsSource};
