//! Shared harness for the cross-crate suites in `tests/`: one `Adapter`
//! interface over both SDKs, so each scenario is written once.
#![forbid(unsafe_code)]

use lime_core::{AgentProfile, ApprovalResult, Config, Error};

/// What a scenario needs of an SDK.
pub trait Adapter: Sized {
    /// An agent for `config`.
    fn new(config: Config) -> Self;
    /// An agent that also trusts `ca_pem`, set up the adapter's own way.
    fn trusting(config: Config, ca_pem: &str) -> Self;
    /// As `trusting`, sending HTTPS through the proxy at `proxy_url`.
    fn via_proxy(config: Config, ca_pem: &str, proxy_url: &str) -> Self;
    /// `login(id)`, blocking until done.
    fn login(&self, id: &str) -> Result<ApprovalResult, Error>;
    /// `get_profile()`, blocking until done.
    fn profile(&self) -> Result<AgentProfile, Error>;
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
    fn trusting(config: Config, ca_pem: &str) -> Self {
        Tokio::with(
            lime_tokio::LimeAgent::builder()
                .config(config)
                .add_root_certificates_pem(ca_pem.as_bytes()),
        )
    }
    fn via_proxy(config: Config, ca_pem: &str, proxy_url: &str) -> Self {
        Tokio::with(
            lime_tokio::LimeAgent::builder()
                .config(config)
                .add_root_certificates_pem(ca_pem.as_bytes())
                .https_proxy(proxy_url, ""),
        )
    }
    fn login(&self, id: &str) -> Result<ApprovalResult, Error> {
        self.runtime.block_on(self.agent.login(id))
    }
    fn profile(&self) -> Result<AgentProfile, Error> {
        self.runtime.block_on(self.agent.get_profile())
    }
}

/// lime-blocking.
#[derive(Debug)]
pub struct Blocking(lime_blocking::LimeAgent);

impl Adapter for Blocking {
    fn new(config: Config) -> Self {
        Blocking(lime_blocking::LimeAgent::new(config))
    }
    fn trusting(config: Config, ca_pem: &str) -> Self {
        Blocking::with_ureq(config, ca_pem, None)
    }
    fn via_proxy(config: Config, ca_pem: &str, proxy_url: &str) -> Self {
        Blocking::with_ureq(config, ca_pem, Some(proxy_url))
    }
    fn login(&self, id: &str) -> Result<ApprovalResult, Error> {
        self.0.login(id)
    }
    fn profile(&self) -> Result<AgentProfile, Error> {
        self.0.get_profile()
    }
}

impl Blocking {
    /// The blocking adapter's way to trust a CA or use a proxy: inject a ureq agent.
    fn with_ureq(config: Config, ca_pem: &str, proxy: Option<&str>) -> Self {
        use lime_blocking::ureq::tls::{Certificate, RootCerts, TlsConfig};
        let ca = Certificate::from_pem(ca_pem.as_bytes()).unwrap();
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&[ca]))
            .build();
        let proxy = proxy.map(|url| lime_blocking::ureq::Proxy::new(url).unwrap());
        let http = lime_blocking::ureq::Agent::config_builder()
            .tls_config(tls)
            .proxy(proxy)
            .build()
            .new_agent();
        Blocking(
            lime_blocking::LimeAgent::builder()
                .config(config)
                .ureq_agent(http)
                .build()
                .unwrap(),
        )
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
