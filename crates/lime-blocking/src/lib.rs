#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod agent;
mod transport;

pub use agent::{LimeAgent, LimeAgentBuilder};
pub use lime_core::{
    AgentProfile, ApprovalResult, Config, Error, PowSchemeChoice, PowStats, RequestStatus,
};
/// The HTTP client this crate drives, for [`LimeAgentBuilder::ureq_agent`].
pub use ureq;
