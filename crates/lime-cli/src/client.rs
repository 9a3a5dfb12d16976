//! The settings shared by `login`, `profile` and `site`, and the agent they build.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use lime_core::{Config, PowSchemeChoice};
use lime_tokio::LimeAgent;

use crate::report::Failure;

/// Client settings. (Doc comments here are `--help` text, so URLs stay bare.)
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Args, Clone)]
pub(crate) struct ClientArgs {
    /// API root (else LIME_API_BASE, else https://lime.pics/api/v1).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Proof-of-work scheme: auto, legacy or v1 (else LIME_POW_SCHEME, else auto).
    #[arg(long, value_name = "SCHEME")]
    pub(crate) scheme: Option<String>,
    /// Allow plain http:// to a host that is not loopback (the token travels unencrypted).
    #[arg(long)]
    pub(crate) allow_http: bool,
    /// Per-attempt HTTP timeout in seconds [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub(crate) timeout: Option<Duration>,
    /// Retries per step [default: 3].
    #[arg(long, value_name = "N")]
    pub(crate) max_retries: Option<u32>,
    /// Proof-of-work time budget in seconds [default: 10].
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub(crate) pow_timeout: Option<Duration>,
    /// Read the agent token from this file (wins over LIME_AGENT_TOKEN).
    #[arg(long, value_name = "PATH", conflicts_with = "token_stdin")]
    pub(crate) token_file: Option<PathBuf>,
    /// Read the agent token from standard input (wins over LIME_AGENT_TOKEN).
    #[arg(long)]
    pub(crate) token_stdin: bool,
    /// Also trust the CA certificates in this PEM file (e.g. `lime serve --tls`'s).
    #[arg(long, value_name = "PATH")]
    pub(crate) ca_cert: Option<PathBuf>,
}

pub(crate) fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a valid duration"))
}

impl ClientArgs {
    pub(crate) fn config(&self) -> Result<Config, Failure> {
        let mut builder = Config::builder().allow_http(self.allow_http);
        if let Some(url) = &self.base_url {
            builder = builder.base_url(url);
        }
        if let Some(scheme) = &self.scheme {
            builder = builder.pow_scheme(scheme.parse::<PowSchemeChoice>()?);
        }
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        if let Some(n) = self.max_retries {
            builder = builder.max_retries(n);
        }
        if let Some(t) = self.pow_timeout {
            builder = builder.pow_timeout(t);
        }
        if let Some(path) = &self.token_file {
            let token = std::fs::read_to_string(path).map_err(|e| {
                Failure::new(
                    "config",
                    2,
                    format!("cannot read the token file {}: {e}", path.display()),
                )
            })?;
            builder = builder.token(token);
        } else if self.token_stdin {
            let mut token = String::new();
            std::io::stdin().read_to_string(&mut token).map_err(|e| {
                Failure::new(
                    "config",
                    2,
                    format!("cannot read the token from stdin: {e}"),
                )
            })?;
            builder = builder.token(token);
        }
        Ok(builder.build()?)
    }

    pub(crate) fn agent(&self) -> Result<LimeAgent, Failure> {
        let mut builder = LimeAgent::builder().config(self.config()?);
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).map_err(|e| {
                Failure::new(
                    "config",
                    2,
                    format!("cannot read the CA file {}: {e}", path.display()),
                )
            })?;
            builder = builder.add_root_certificates_pem(&pem);
        }
        Ok(builder.build()?)
    }
}
