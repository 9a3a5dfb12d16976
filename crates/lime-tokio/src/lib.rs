#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod agent;
mod proxy;
mod transport;

pub use agent::{LimeAgent, LimeAgentBuilder};
pub use lime_core::{
    AgentProfile, ApprovalResult, Config, Error, PowSchemeChoice, PowStats, RequestStatus,
};
pub use transport::RequestBody;
