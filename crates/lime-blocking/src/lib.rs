#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod agent;
mod one_write;
pub mod site;
mod transport;

pub use agent::{LimeAgent, LimeAgentBuilder};
pub use site::{LimeSite, LimeSiteBuilder};
// Everything this crate's API mentions, so one dependency is enough.
pub use lime_core::drive::{TransportError, TransportErrorKind};
pub use lime_core::lime_pow::{CancelToken, Progress, Scheme as PowScheme};
pub use lime_core::mcp::{McpAccessToken, McpTarget};
pub use lime_core::{
    AgentProfile, AgentToken, ApprovalResult, BaseUrl, Config, ConfigBuilder, Error, Hint,
    LoginFailure, LoginReport, PowSchemeChoice, PowStats, RequestStatus, codes, settings,
};
/// The HTTP client this crate drives, for [`LimeAgentBuilder::ureq_agent`]
/// (the `custom-client` escape hatch: its types follow ureq's versions, not
/// lime's).
#[cfg(feature = "custom-client")]
pub use ureq;
