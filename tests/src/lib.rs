//! Shared harness for the cross-crate suites in `tests/`: one `Adapter`
//! interface over both SDKs, so each scenario is written once.
#![forbid(unsafe_code)]

use lime_core::mcp::McpAccessToken;
use lime_core::{AgentProfile, ApprovalResult, Config, ConfigBuilder, Error};

/// What a scenario needs of an SDK.
pub trait Adapter: Sized {
    /// An agent for `config`.
    fn new(config: Config) -> Self;
    /// An agent for `config` that also trusts `ca_pem`, added through the
    /// adapter's own builder.
    fn trusting(config: ConfigBuilder, ca_pem: &str) -> Self;
    /// `login(id)`, blocking until done.
    fn login(&self, id: &str) -> Result<ApprovalResult, Error>;
    /// `get_profile()`, blocking until done.
    fn profile(&self) -> Result<AgentProfile, Error>;
    /// `mcp_access_token(target)`, or with `force` the refreshing variant.
    fn mcp_token(&self, target: &str, force: bool) -> Result<McpAccessToken, Error>;
}

/// lime-tokio on a runtime of its own.
#[derive(Debug)]
pub struct Tokio {
    agent: lime_tokio::LimeAgent,
    runtime: tokio::runtime::Runtime,
}

impl Tokio {
    /// An agent from `builder`, on a two-worker runtime of its own.
    fn with(builder: lime_tokio::LimeAgentBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Tokio {
            agent: builder.build().unwrap(),
            runtime,
        }
    }
}

impl Adapter for Tokio {
    fn new(config: Config) -> Self {
        Tokio::with(lime_tokio::LimeAgent::builder().config(config))
    }
    fn trusting(config: ConfigBuilder, ca_pem: &str) -> Self {
        Tokio::with(
            lime_tokio::LimeAgent::builder()
                .configure(|_| config)
                .add_root_certificates_pem(ca_pem.as_bytes()),
        )
    }
    fn login(&self, id: &str) -> Result<ApprovalResult, Error> {
        self.runtime.block_on(self.agent.login(id))
    }
    fn profile(&self) -> Result<AgentProfile, Error> {
        self.runtime.block_on(self.agent.get_profile())
    }
    fn mcp_token(&self, target: &str, force: bool) -> Result<McpAccessToken, Error> {
        if force {
            self.runtime
                .block_on(self.agent.refresh_mcp_access_token(target))
        } else {
            self.runtime.block_on(self.agent.mcp_access_token(target))
        }
    }
}

/// lime-blocking.
#[derive(Debug)]
pub struct Blocking(lime_blocking::LimeAgent);

impl Adapter for Blocking {
    fn new(config: Config) -> Self {
        Blocking(lime_blocking::LimeAgent::new(config).unwrap())
    }
    fn trusting(config: ConfigBuilder, ca_pem: &str) -> Self {
        Blocking(
            lime_blocking::LimeAgent::builder()
                .configure(|_| config)
                .add_root_certificates_pem(ca_pem.as_bytes())
                .build()
                .unwrap(),
        )
    }
    fn login(&self, id: &str) -> Result<ApprovalResult, Error> {
        self.0.login(id)
    }
    fn profile(&self) -> Result<AgentProfile, Error> {
        self.0.get_profile()
    }
    fn mcp_token(&self, target: &str, force: bool) -> Result<McpAccessToken, Error> {
        if force {
            self.0.refresh_mcp_access_token(target)
        } else {
            self.0.mcp_access_token(target)
        }
    }
}

/// Instantiates each generic scenario `fn name<A: Adapter>()` as a test for
/// both adapters, in modules `tokio_adapter` and `blocking_adapter`.
#[macro_export]
macro_rules! for_both_adapters {
    ($($scenario:ident),* $(,)?) => {
        mod tokio_adapter {
            $( #[test] fn $scenario() { super::$scenario::<$crate::Tokio>() } )*
        }
        mod blocking_adapter {
            $( #[test] fn $scenario() { super::$scenario::<$crate::Blocking>() } )*
        }
    };
}
