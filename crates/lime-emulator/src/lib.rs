#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod body;
pub mod faults;
pub mod passport;
mod server;
pub mod site;
pub mod sse;
mod state;
mod tls;

pub use faults::{Fault, RawBody, Route};
pub use passport::{PassportError, PassportKey};
pub use server::{
    API_PREFIX, BlockingEmulator, DEFAULT_CLIENT_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Emulator,
    EmulatorBuilder, MAX_REQUEST_BODY, MAX_TTL, OwnerKey, StartError,
};
pub use state::{AgentAccount, Counters, SiteAccount};
pub use tls::{TlsError, TlsSource};
