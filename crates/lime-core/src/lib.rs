#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod agent;
mod base_url;
mod builder_setters;
mod config;
mod envelope;
mod error;
mod fields;
mod flow;
mod io;
mod known;
mod login;
pub mod mcp;
mod one_request;
mod pow;
pub mod proxy;
mod report;
mod request_id;
mod retry;
mod roots;
#[cfg(feature = "serde")]
mod serde_helpers;
pub mod site;
mod step;
pub mod token;
mod types;

// What a user names daily, at the root.
pub use base_url::BaseUrl;
pub use config::{Config, ConfigBuilder, ConfigSlot, PowSchemeChoice};
pub use error::{Error, Hint};
pub use login::Login;
pub use one_request::Profile;
pub use pow::PowStats;
pub use report::{LoginFailure, LoginReport};
pub use token::{AgentToken, SiteToken};
pub use types::{AgentProfile, ApprovalResult, RequestStatus};

// The rest by concept (the crate's own modules name them from the root).
pub(crate) use error::{TransportError, TransportErrorKind};
pub(crate) use io::{HttpRequest, HttpResponse};
pub(crate) use request_id::validate_request_id;

/// Driving a flow yourself (what `lime-tokio` and `lime-blocking` do): what
/// a flow asks for and what a driver feeds back, the transport's errors,
/// and the agent state both adapters share.
pub mod drive {
    pub use crate::agent::AgentState;
    pub use crate::envelope::classify;
    pub use crate::error::{TransportError, TransportErrorKind, find_in_chain};
    pub use crate::flow::Flow;
    pub use crate::io::{
        AGENT_TOKEN_HEADER, HttpRequest, HttpResponse, Output, Transmit, describe_headers,
    };
    pub use crate::one_request::{Exchange, Mint, OneRequest, ProfileRead};
    pub use crate::pow::{PowOutcome, PowTask, QUICK_MAX_DIFFICULTY};
    pub use crate::roots::certificates_from_pem;
}

/// The API codes the SDK itself assigns or branches on.
pub mod codes {
    pub use crate::error::{
        CODE_ACCESS_DENIED, CODE_AGENT_INACTIVE, CODE_AGENT_USER_SUSPENDED, CODE_AUTH_UNAVAILABLE,
        CODE_CONFLICT, CODE_EXPIRED, CODE_INVALID_POW, CODE_INVALID_TOKEN_RESPONSE,
        CODE_MCP_AUTH_FAILED, CODE_MCP_TOKEN_REFUSED, CODE_PASSPORT_REFUSED, CODE_RATE_LIMITED,
    };
}

/// Defaults, environment variable names, limits and the validators behind
/// them (every figure the docs name).
pub mod settings {
    pub use crate::base_url::{BASE_URL_ENV, DEFAULT_BASE_URL, redact_url};
    pub use crate::config::{
        CA_CERT_ENV, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_MCP_TOKEN_SKEW,
        DEFAULT_POW_TIMEOUT, DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, MAX_CA_CERT_BYTES,
        MCP_TOKEN_SKEW_ENV, POW_SCHEME_ENV, ProxySource,
    };
    pub use crate::request_id::{MAX_REQUEST_ID_LEN, validate_request_id};
    pub use crate::retry::{
        BACKOFF_BASE, MAX_BACKOFF, MAX_JITTER, MAX_RETRY_AFTER, is_retryable_status,
    };
    pub use crate::token::{SITE_TOKEN_ENV, TOKEN_ENV};
}

/// Re-exported so drivers name PoW types without a second dependency.
pub use lime_pow;
