//! `LimeAgent`: the blocking SDK surface.

use std::sync::Arc;
use std::time::Instant;

use lime_core::lime_pow::{CancelToken, Progress};
use lime_core::{
    AgentProfile, ApprovalResult, Config, ConfigBuilder, Error, PowStats,
    drive::{AgentState, Flow, Output},
};

use crate::transport::send;

/// An agent for synchronous code: `login` and `get_profile` block the
/// calling thread (the proof of work also uses `lime-pow` worker threads).
/// Cheap to clone; clones share the connection pool and the learned agent id.
///
/// ```no_run
/// let agent = lime_blocking::LimeAgent::from_env()?; // LIME_AGENT_TOKEN, LIME_API_BASE
/// let approval = agent.login("lr_abc123")?;
/// println!("approved for site {}", approval.site_id);
/// # Ok::<(), lime_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct LimeAgent {
    inner: Arc<Inner>,
}

struct Inner {
    state: AgentState,
    http: ureq::Agent,
}

impl std::fmt::Debug for LimeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimeAgent")
            .field("config", self.inner.state.config())
            .finish_non_exhaustive()
    }
}

impl LimeAgent {
    lime_core::agent_constructors!();

    /// Confirms the login request `request_id`.
    ///
    /// # Errors
    /// Every [`Error`] variant the protocol defines; see `lime-core`.
    pub fn login(&self, request_id: &str) -> Result<ApprovalResult, Error> {
        self.login_with_stats(request_id).0
    }

    /// [`login`](Self::login), also returning what the proof of work cost.
    pub fn login_with_stats(&self, request_id: &str) -> (Result<ApprovalResult, Error>, PowStats) {
        self.login_with_progress(request_id, Progress::new(), &CancelToken::new())
    }

    /// [`login_with_stats`](Self::login_with_stats), counting hashes into
    /// `progress` while the proof of work runs (for a spinner or an ETA on
    /// another thread), and stopping the solve when `cancel` is tripped from
    /// another thread (the login then ends with [`Error::Cancelled`]).
    pub fn login_with_progress(
        &self,
        request_id: &str,
        progress: Progress,
        cancel: &CancelToken,
    ) -> (Result<ApprovalResult, Error>, PowStats) {
        let state = &self.inner.state;
        let mut login = match state.start_login(request_id, progress, Instant::now()) {
            Ok(login) => login.with_cancel_token(cancel.clone()),
            Err(e) => return (Err(e), PowStats::default()),
        };
        let result = self.drive(&mut login);
        state.finish_login(&login);
        (result, login.pow_stats())
    }

    /// Reads this agent's profile.
    ///
    /// # Errors
    /// Authentication, transport and invalid-response errors.
    pub fn get_profile(&self) -> Result<AgentProfile, Error> {
        let state = &self.inner.state;
        let mut profile = state.start_profile(Instant::now());
        let result = self.drive(&mut profile);
        state.finish_profile(&result);
        result
    }

    /// The drive loop: the only place this crate touches the protocol.
    fn drive<F: Flow>(&self, flow: &mut F) -> Result<F::Value, Error> {
        loop {
            match flow.poll_output() {
                Output::Send(transmit) => match send(
                    &self.inner.http,
                    transmit,
                    self.inner.state.config().max_body_bytes(),
                ) {
                    Ok(response) => flow.handle_response(response, Instant::now()),
                    Err(error) => flow.handle_transport_error(error, Instant::now()),
                },
                Output::Solve(task) => {
                    let outcome = task.run();
                    flow.handle_solution(outcome, Instant::now());
                }
                Output::Wait(until) => {
                    std::thread::sleep(until.saturating_duration_since(Instant::now()));
                    flow.handle_timeout(Instant::now());
                }
                Output::Done(result) => return result,
            }
        }
    }
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

/// Builds a blocking [`LimeAgent`].
#[derive(Default)]
pub struct LimeAgentBuilder {
    config: ConfigBuilder,
    /// Whether a setter touched `config` (an error beside `prebuilt`).
    configured: bool,
    prebuilt: Option<Config>,
    http: Option<ureq::Agent>,
    roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    bad_root: Option<String>,
}

impl std::fmt::Debug for LimeAgentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimeAgentBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LimeAgentBuilder {
    lime_core::agent_builder_setters!();

    /// Also trusts the certificates in `pem` (a corporate or test CA),
    /// beside the bundled web PKI roots.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        match lime_core::drive::certificates_from_pem(pem) {
            Ok(certificates) => self.roots.extend(certificates),
            Err(reason) => self.bad_root = Some(reason),
        }
        self
    }

    /// Uses this ureq agent (its TLS, proxy and pool settings). Whatever it
    /// says, every request still follows no redirect, gets statuses as
    /// responses and has the per-attempt timeout, and a plain `http://`
    /// base URL never goes through its proxy.
    pub fn ureq_agent(mut self, agent: ureq::Agent) -> Self {
        self.http = Some(agent);
        self
    }

    /// Builds the agent.
    ///
    /// # Errors
    /// As [`ConfigBuilder::build`].
    pub fn build(mut self) -> Result<LimeAgent, Error> {
        let config =
            std::mem::take(&mut self.config).build_or_use(self.prebuilt.take(), self.configured)?;
        if let Some(reason) = self.bad_root.take() {
            return Err(Error::Config {
                reason: format!("bad root certificate: {reason}"),
            });
        }
        if self.http.is_some() && !self.roots.is_empty() {
            return Err(Error::Config {
                reason: "an injected ureq_agent brings its own TLS roots; \
                         add_root_certificates_pem applies to the built-in agent only"
                    .to_owned(),
            });
        }
        self.build_with(config)
    }

    fn build_with(self, config: Config) -> Result<LimeAgent, Error> {
        let roots = self.roots;
        let http = self.http.unwrap_or_else(|| {
            let mut tls = ureq::tls::TlsConfig::builder();
            if !roots.is_empty() {
                let mut all: Vec<ureq::tls::Certificate<'static>> =
                    webpki_root_certs::TLS_SERVER_ROOT_CERTS
                        .iter()
                        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                        .collect();
                all.extend(
                    roots
                        .iter()
                        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()),
                );
                tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(all)));
            }
            // Never ureq's own proxy from the environment: the proxy is
            // lime-core's decision, the same in both adapters.
            ureq::Agent::config_builder()
                .max_redirects(0)
                .http_status_as_error(false)
                .user_agent(config.user_agent())
                .tls_config(tls.build())
                .proxy(crate::transport::ureq_proxy(config.proxy_route()))
                .build()
                .new_agent()
        });
        Ok(LimeAgent {
            inner: Arc::new(Inner {
                state: AgentState::new(config, seed()),
                http,
            }),
        })
    }
}
