#![doc = include_str!("../README.md")]
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
mod login;
mod pow;
mod profile;
mod proxy;
mod request_id;
mod retry;
mod step;
mod token;
mod types;

pub use agent::AgentState;
pub use base_url::{BASE_URL_ENV, BaseUrl, DEFAULT_BASE_URL, redact_url};
pub use config::{
    Config, ConfigBuilder, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RETRIES, DEFAULT_POW_TIMEOUT,
    DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, POW_SCHEME_ENV, PowSchemeChoice, ProxySource,
};
pub use envelope::classify;
pub use error::{
    CODE_CONFLICT, CODE_EXPIRED, CODE_INVALID_POW, CODE_RATE_LIMITED, Error, TransportError,
    TransportErrorKind, error_chain_contains,
};
pub use flow::Flow;
pub use io::{AGENT_TOKEN_HEADER, HttpRequest, HttpResponse, Output, Transmit};
pub use login::{Login, PowStats};
pub use pow::{PowOutcome, PowTask};
pub use profile::Profile;
pub use proxy::{
    HTTPS_PROXY_VARIABLES, NO_PROXY_VARIABLES, NoProxy, ProxyRoute, ProxyRules, ProxyUrl,
};
pub use request_id::{MAX_REQUEST_ID_LEN, validate_request_id};
pub use retry::{BACKOFF_BASE, MAX_JITTER, MAX_RETRY_AFTER, is_retryable_status};
pub use token::{AgentToken, TOKEN_ENV};
pub use types::{AgentProfile, ApprovalResult, RequestStatus};

/// Re-exported so drivers name PoW types without a second dependency.
pub use lime_pow;
