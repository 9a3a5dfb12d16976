#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod agent;
mod keys;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub mod mcp;
#[cfg(feature = "mcp-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp-server")))]
pub mod mcp_server;
mod proxy;
mod resolve;
pub mod site;
mod transport;

pub use agent::{LimeAgent, LimeAgentBuilder};
pub use resolve::{RESOLVE_ENV, Resolve};
pub use site::{LimeSite, LimeSiteBuilder};
// Everything this crate's API mentions, so one dependency is enough.
pub use lime_core::drive::{TransportError, TransportErrorKind};
pub use lime_core::lime_pow::{CancelToken, Progress, Scheme as PowScheme};
pub use lime_core::mcp::{McpAccessToken, McpTarget};
pub use lime_core::{
    AgentProfile, AgentToken, ApprovalResult, BaseUrl, Config, ConfigBuilder, Error, Hint,
    LoginFailure, LoginReport, PowSchemeChoice, PowStats, RequestStatus, codes, settings,
};
/// The body type an injected hyper-util client is built for (the
/// `custom-client` escape hatch).
#[cfg(feature = "custom-client")]
pub use transport::RequestBody;
